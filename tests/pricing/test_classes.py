"""billing/pricing/classes.py is the one list of token classes and metrics; these tests tie
it to the schema, so a new column can't be added in one place only."""

from billing.pricing import classes
from billing.pricing.models import ModelPrice
from billing.pricing.rates import Rates
from usage.models import RollupSums, UsageRecord
from usage.web.api import EventIn


def test_metrics_are_exactly_the_rollup_columns_in_order():
    assert [f.name for f in RollupSums._meta.get_fields()] == classes.METRICS


def test_token_columns_are_every_token_count_a_record_stores():
    stored = [f.name for f in UsageRecord._meta.get_fields() if f.name.endswith("_tokens")]
    assert stored == classes.TOKEN_COLUMNS
    assert set(classes.SUMS) <= {f.name for f in UsageRecord._meta.get_fields()}


def test_priced_columns_are_the_rate_classes():
    assert sorted(classes.rate_class(c) for c in classes.PRICED_COLUMNS) == sorted(classes.RATE_CLASSES)
    per_class = Rates(model="m", provider="p", effective_from=None, input=1, output=2).per_class()
    assert set(per_class) == set(classes.RATE_CLASSES)
    assert set(classes.RATE_CLASSES) <= {f.name for f in ModelPrice._meta.get_fields()}
    assert set(classes.LABELS) == set(classes.PRICED_COLUMNS)


def test_the_ingest_schema_accepts_every_token_column():
    assert set(classes.TOKEN_COLUMNS) <= set(EventIn.model_fields)
