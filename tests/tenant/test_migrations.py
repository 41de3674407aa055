"""A database created at the last schema before the tenant and pricing apps existed (usage
0007, billing 0002), with data in it, migrates forward with its tables and rows untouched:
Project / IngestKey move to `tenant`, ModelPrice / ModelAlias to `pricing`, state only."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from billing.models import Budget, DigestSent
from billing.pricing.models import ModelAlias, ModelPrice
from billing.pricing.rates import PriceBook
from costwatch.tenant.keys import authenticate_key, hash_key
from costwatch.tenant.models import IngestKey, Project
from usage.models import DailyUsage, UsageRecord

HEAD = [("usage", "0007_provider_sync"), ("billing", "0002_budget_alert_delivery")]
BEFORE = [*HEAD, ("tenant", None), ("pricing", None)]
RAW_KEY = "cw_" + "k" * 43
DAY = dt.date(2026, 11, 2)


def _seed_old_schema(apps) -> dict:
    user = apps.get_model("auth", "User").objects.create(username="old-user")
    project = apps.get_model("usage", "Project").objects.create(slug="old", name="Old", timezone="Europe/Berlin")
    project.members.add(user)
    apps.get_model("usage", "IngestKey").objects.create(project=project, prefix=RAW_KEY[:10], key_hash=hash_key(RAW_KEY))
    apps.get_model("usage", "UsageRecord").objects.create(
        project=project, source="api", external_id="r1", timestamp=dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC),
        day=DAY, model="acme-7b", input_tokens=1000, cost_nano=12_345)
    apps.get_model("usage", "DailyUsage").objects.create(project=project, day=DAY, ledger="metered", model="acme-7b",
                                                         requests=1, cost_nano=12_345)
    apps.get_model("billing", "ModelPrice").objects.create(
        model="acme-7b", provider="acme", effective_from=DAY, input=Decimal("2.5"), output=Decimal("10"), is_custom=True)
    apps.get_model("billing", "ModelAlias").objects.create(alias="acme 7b", model="acme-7b", is_custom=True)
    budget = apps.get_model("billing", "Budget").objects.create(project=project, name="Monthly", amount_usd=Decimal("50"))
    apps.get_model("billing", "DigestSent").objects.create(project=project, week_start=dt.date(2026, 10, 26))
    return {"user": user.pk, "project": project.pk, "budget": budget.pk}


@pytest.mark.django_db(transaction=True)
def test_moving_models_keeps_tables_rows_and_foreign_keys():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    ids = _seed_old_schema(executor.loader.project_state(HEAD).apps)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    tables = set(connection.introspection.table_names())
    assert {"usage_project", "usage_project_members", "usage_ingestkey", "billing_modelprice",
            "billing_modelalias"} <= tables
    assert not {t for t in tables if t.startswith(("tenant_", "pricing_"))}

    project = Project.objects.get(pk=ids["project"])
    assert (project.slug, project.timezone) == ("old", "Europe/Berlin")
    assert list(project.members.values_list("pk", flat=True)) == [ids["user"]]
    key = authenticate_key(RAW_KEY)
    assert key is not None and key.project == project
    assert UsageRecord.objects.get(external_id="r1").project == project
    assert DailyUsage.objects.get(project=project).cost_nano == 12_345
    assert Budget.objects.get(pk=ids["budget"]).project == project
    assert DigestSent.objects.get().project == project
    assert ModelPrice.objects.get(model="acme-7b", is_custom=True).input == Decimal("2.5")
    assert ModelAlias.objects.get(alias="acme 7b").model == "acme-7b"
    assert PriceBook.load().resolve("acme 7b") == "acme-7b"

    # Admin permissions follow the models to their new apps.
    for label, model in [("tenant", "project"), ("tenant", "ingestkey"), ("pricing", "modelprice"),
                         ("pricing", "modelalias")]:
        ct = ContentType.objects.get(app_label=label, model=model)
        assert Permission.objects.filter(content_type=ct, codename=f"change_{model}").exists()
    assert not ContentType.objects.filter(app_label="usage", model__in=["project", "ingestkey"]).exists()

    # The foreign keys still cascade from the same table (the constraints were never touched).
    project.delete()
    assert not UsageRecord.objects.exists() and not IngestKey.objects.exists()
    assert not Budget.objects.exists() and not DailyUsage.objects.exists()
