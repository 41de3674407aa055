"""PriceBook.current: the process keeps its price book while the prices' version stays, and
loads it again after any write to the price or alias tables (ORM save, bulk update, raw
SQL, delete), committed or seen in the writing transaction; a rolled-back write leaves the
book as it was. Ingest prices with it."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.pricing.models import ModelAlias, ModelPrice
from billing.pricing.rates import PriceBook
from tests.pricing.ingest import TS, post

pytestmark = pytest.mark.django_db
MODEL, DAY = "gpt-4o-mini", date(2026, 11, 2)


def price() -> ModelPrice:
    return ModelPrice.objects.filter(model=MODEL, effective_from__lte=DAY).order_by("-effective_from").first()


def output_rate() -> Decimal:
    return PriceBook.current().rates_at(MODEL, DAY).output


def test_kept_while_nothing_changed():
    book = PriceBook.current()
    with CaptureQueriesContext(connection) as queries:
        assert PriceBook.current() is book
    assert len(queries) == 1  # the version, not the price rows


def test_every_kind_of_write_loads_it_again():
    start = output_rate()
    row = price()
    row.output = start * 2
    row.save()
    assert output_rate() == start * 2
    ModelPrice.objects.filter(pk=row.pk).update(output=start * 3)
    assert output_rate() == start * 3
    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_modelprice SET output = %s WHERE id = %s", [start * 4, row.pk])
    assert output_rate() == start * 4
    assert PriceBook.current().resolve("my-mini") is None
    ModelAlias.objects.create(alias="my-mini", model=MODEL)
    assert PriceBook.current().resolve("my-mini") == MODEL
    ModelPrice.objects.filter(model=MODEL).delete()
    assert PriceBook.current().rates_at(MODEL, DAY) is None


def test_a_rolled_back_write_leaves_the_book():
    start = output_rate()
    with pytest.raises(RuntimeError), transaction.atomic():
        ModelPrice.objects.filter(pk=price().pk).update(output=start * 2)
        assert output_rate() == start * 2  # the writing transaction sees its own prices
        raise RuntimeError
    assert output_rate() == start
    ModelPrice.objects.filter(pk=price().pk).update(output=start * 5)  # another write after it
    assert output_rate() == start * 5


def test_ingest_prices_with_the_changed_rate(api_client, django_capture_on_commit_callbacks):
    event = {"model": MODEL, "timestamp": TS, "input_tokens": 0, "output_tokens": 1_000_000}
    first = post(api_client, [{**event, "id": "a"}], django_capture_on_commit_callbacks)
    ModelPrice.objects.filter(pk=price().pk).update(output=output_rate() * 2)
    second = post(api_client, [{**event, "id": "b"}], django_capture_on_commit_callbacks)
    assert Decimal(second["cost_usd"]) == 2 * Decimal(first["cost_usd"]) > 0
