"""Display formats: money from nano-USD, tokens, percentages."""

import pytest

from usage.templatetags.dashboard import pct, signed_pct, tokens, usd, usd_unit


@pytest.mark.parametrize(("nano", "shown"), [
    (0, "$0.00"),
    (1_234_567_890_000, "$1,234.57"),
    (10_000_000, "$0.01"),
    (4_200_000, "$0.0042"),      # sub-cent: at least 4 decimals
    (518_000, "$0.000518"),      # up to 6 significant decimals
    (12_345, "$0.000012"),
    (-2_500_000_000, "-$2.50"),
    (None, "—"),
])
def test_usd(nano, shown):
    assert usd(nano) == shown


def test_usd_unit_keeps_four_decimals_below_a_dollar():
    assert usd_unit(310_000_000) == "$0.3100"
    assert usd_unit(2_000_000_000) == "$2.00"
    assert usd_unit(471) == usd(471) == "<$0.000001"


def test_tokens_pct():
    assert tokens(999) == "999"
    assert tokens(1_200) == "1.2K"
    assert tokens(5_000_000) == "5M"
    assert tokens(153_500_000) == "153.5M"
    assert pct(0.46) == "46.0%"
    assert pct(0.456, 0) == "46%"
    assert pct(None) == "—"
    assert signed_pct(0.1) == "+10%"
    assert signed_pct(-0.25) == "-25%"
