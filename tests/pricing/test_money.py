from decimal import Decimal

from billing.pricing.money import decimal_string, format_usd, nano_to_usd, usd_amount, usd_to_nano


def test_conversions_are_exact():
    assert usd_to_nano("12.345678901") == 12_345_678_901
    assert usd_to_nano(Decimal("0.0000000005")) == 0  # half to even
    assert usd_to_nano(Decimal("0.0000000015")) == 2
    assert nano_to_usd(12_345_678_901) == Decimal("12.345678901")
    assert nano_to_usd(None) is None and usd_amount(None) == Decimal(0)


def test_api_money_is_an_exact_decimal_string():
    assert decimal_string(1_500_000_000) == "1.500000000"
    assert decimal_string(-1) == "-0.000000001"
    assert decimal_string(None) is None


def test_the_one_formatter_for_people():
    assert format_usd(1_234_567_000_000) == "$1,234.57"
    assert format_usd(0) == "$0.00"
    assert format_usd(-26_000_000) == "-$0.03"
    assert format_usd(25_000_000) == "$0.02"  # half to even, like the nano rounding
    assert format_usd(4_200_000) == "$0.0042"  # sub-cent amounts keep their digits
    assert format_usd(123) == "<$0.000001"
    assert format_usd(None) == "—"
