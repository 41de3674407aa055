"""A realistic demo data set: ~90 days of an AI product team's LLM usage.

Workloads (shaped like real ones):
- content assistant on Claude Sonnet 4.5 with a cached 6K-token system prompt (5 m writes);
- code-review bot on Claude Haiku 4.5, escalating ~15 % of reviews to Sonnet 4.5 with the
  repository context cached for 1 h;
- e-mail classifier on cached Haiku 4.5, with a nightly Batch API backfill;
- support chat on gpt-4o-mini (OpenAI cached prompt tokens), escalating to gpt-5 (reasoning);
- a weekly research job on Sonnet 4.5 past 200K prompt tokens (long-context rates);
- a summarizer on a fine-tuned model at a negotiated rate, cut in half 18 days ago (the
  Insights "explain" page finds a price effect);
- a code-review retry loop 9 days ago (an anomaly: a spike day for the project, the feature
  and Sonnet);
- a nightly digest job on Sonnet 4.5 with no end user, run interactively at 1–4 AM New York
  time (the recommendations find what the Batch API would save);
- three developers' Claude Code sessions on weekdays (the subscription break-even).
The billed ledger carries what the Anthropic Console would export for the same usage (per
day × model × key), a little off from the metered numbers, as real ones are, plus the odd
day of Console Workbench use that the app never saw.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from billing.models import Budget
from billing.pricing.classes import PRICED_COLUMNS
from billing.pricing.models import ModelPrice
from costwatch.tenant.keys import create_key
from costwatch.tenant.models import Project
from usage.importers import claude_code
from usage.ingest import record_usage
from usage.insights.breakeven import add_examples
from usage.models import LEDGER_BILLED
from usage.records import Record

DEMO_SLUG = "demo"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"


def _ts(day: date, rng: random.Random, now: datetime) -> datetime:
    hour = min(23, max(0, int(rng.gauss(14, 4))))
    ts = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=UTC)
    return min(ts, now - timedelta(minutes=1))


SUMMARIZER = "acme-summarizer-ft"
PRICE_CUT_DAYS_AGO = 18
SPIKE_DAYS_AGO = 9


def _metered(day: date, rng: random.Random, now: datetime, growth: float, *, spike: bool = False) -> list[Record]:
    weekday = day.weekday() < 5
    out: list[Record] = []
    seq = 0

    def add(at: datetime | None = None, **kw):
        nonlocal seq
        seq += 1
        ts = min(at, now - timedelta(minutes=1)) if at else _ts(day, rng, now)
        out.append(Record(external_id=f"demo-{day.isoformat()}-{seq}", timestamp=ts, **kw))

    # Content assistant: Sonnet 4.5, cached system prompt.
    for _ in range(int((140 if weekday else 45) * growth * rng.uniform(0.85, 1.15))):
        miss = rng.random() < 0.08
        add(model="claude-sonnet-4-5-20250929", provider="anthropic", feature="content-assistant",
            end_user=f"user-{rng.randrange(1, 41):03d}", api_key="prod-web",
            input_tokens=rng.randrange(300, 2200), output_tokens=rng.randrange(250, 1300),
            cache_read_tokens=0 if miss else 6144, cache_write_5m_tokens=6144 if miss else 0)
    # Code review: Haiku 4.5, escalating to Sonnet with a 1 h cached repo context.
    for _ in range(int((110 if weekday else 12) * growth * rng.uniform(0.8, 1.2))):
        repo = rng.choice(["web-app", "api", "billing-service", "mobile", "infra"])
        add(model="claude-haiku-4-5-20251001", provider="anthropic", feature="code-review",
            end_user=f"repo:{repo}", api_key="ci-bot",
            input_tokens=rng.randrange(6000, 32000), output_tokens=rng.randrange(400, 1600))
        if rng.random() < 0.15:
            first = rng.random() < 0.3
            add(model="claude-sonnet-4-5-20250929", provider="anthropic", feature="code-review",
                end_user=f"repo:{repo}", api_key="ci-bot",
                input_tokens=rng.randrange(2000, 9000), output_tokens=rng.randrange(800, 2500),
                cache_write_1h_tokens=20480 if first else 0, cache_read_tokens=0 if first else 20480)
    # E-mail classifier: cached Haiku, real time plus a nightly batch backfill.
    for _ in range(int(160 * growth * rng.uniform(0.9, 1.1))):
        add(model="claude-haiku-4-5", provider="anthropic", feature="email-classifier",
            api_key="prod-worker", input_tokens=rng.randrange(200, 900),
            output_tokens=rng.randrange(8, 40), cache_read_tokens=3072)
    for _ in range(int(220 * rng.uniform(0.9, 1.1))):
        add(model="claude-haiku-4-5", provider="anthropic", feature="email-classifier",
            api_key="batch-worker", batch=True, input_tokens=rng.randrange(200, 900),
            output_tokens=rng.randrange(8, 40), cache_read_tokens=3072)
    # Support chat: gpt-4o-mini with OpenAI prompt caching, escalations to gpt-5.
    for _ in range(int((190 if weekday else 110) * growth * rng.uniform(0.85, 1.15))):
        cached = 2048 if rng.random() < 0.6 else 0
        add(model="gpt-4o-mini-2024-07-18", provider="openai", feature="support-chat",
            end_user=f"cust-{rng.randrange(1, 400):04d}", api_key="prod-web",
            input_tokens=rng.randrange(800, 2400), cache_read_tokens=cached,
            output_tokens=rng.randrange(60, 400))
    for _ in range(int(12 * growth * rng.uniform(0.5, 1.5))):
        reasoning = rng.randrange(800, 4000)
        add(model="gpt-5-2025-08-07", provider="openai", feature="support-chat",
            end_user=f"cust-{rng.randrange(1, 400):04d}", api_key="prod-web",
            input_tokens=rng.randrange(3000, 9000), cache_read_tokens=rng.choice([0, 1024, 2048]),
            output_tokens=reasoning + rng.randrange(200, 800), reasoning_tokens=reasoning)
    # Summarizer on a fine-tuned model at a negotiated rate (cut mid-period, see _demo_prices).
    for _ in range(int((150 if weekday else 40) * growth * rng.uniform(0.85, 1.15))):
        add(model=SUMMARIZER, provider="custom", feature="summarizer", end_user=f"user-{rng.randrange(1, 41):03d}",
            api_key="prod-web", input_tokens=rng.randrange(2000, 4000), output_tokens=rng.randrange(400, 800))
    # Nightly digest: no end user, 1–4 AM in New York (06–09 UTC), interactive API.
    for _ in range(int(120 * rng.uniform(0.9, 1.1))):
        at = datetime.combine(day, time(rng.randrange(6, 9), rng.randrange(60), rng.randrange(60)), tzinfo=UTC)
        add(at=at, model="claude-sonnet-4-5-20250929", provider="anthropic", feature="nightly-digest",
            api_key="cron", input_tokens=rng.randrange(7000, 11000), output_tokens=rng.randrange(900, 1500))
    # Claude Code: three developers on weekdays (the importer names the feature after the repo).
    if weekday:
        for dev in range(3):
            for _ in range(int(60 * rng.uniform(0.7, 1.3))):
                write = rng.random() < 0.1
                add(model="claude-sonnet-4-5-20250929", provider="anthropic", feature="acme-web",
                    input_tokens=rng.randrange(500, 2500), output_tokens=rng.randrange(300, 1100),
                    cache_read_tokens=rng.randrange(30_000, 60_000), cache_write_5m_tokens=8000 if write else 0,
                    metadata={"session_id": f"dev{dev}-{day.isoformat()}"})
    if spike:
        # A retry loop in the review bot: the same escalation sent again and again.
        for _ in range(300):
            add(model="claude-sonnet-4-5-20250929", provider="anthropic", feature="code-review",
                end_user="repo:billing-service", api_key="ci-bot",
                input_tokens=rng.randrange(18000, 22000), output_tokens=rng.randrange(1200, 1800))
    # Weekly research job past 200K prompt tokens: long-context rates for the whole request.
    if day.weekday() == 2:
        for _ in range(3):
            add(model="claude-sonnet-4-5-20250929", provider="anthropic", feature="research-agent",
                end_user="analyst-team", api_key="research",
                input_tokens=rng.randrange(210_000, 380_000), output_tokens=rng.randrange(3000, 8000))
    return out


def _billed(day: date, metered: list[Record], rng: random.Random) -> list[Record]:
    """Console-style rows: Anthropic usage per day × model × key, ±1 % off metered."""
    groups: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in metered:
        if r.provider != "anthropic":
            continue
        key = (r.model.split("-2025")[0], r.api_key, r.batch, bool(r.input_tokens + r.cache_read_tokens > 200_000))
        g = groups[key]
        g["requests"] += 1
        for f in PRICED_COLUMNS:
            g[f] += getattr(r, f)
    out = []
    for (model, api_key, batch, long_ctx), g in groups.items():
        drift = rng.uniform(0.99, 1.015)
        out.append(Record(
            external_id=f"{day.isoformat()}|{model}|{api_key}|{batch}|{long_ctx}",
            timestamp=datetime.combine(day, time(0), tzinfo=UTC),
            model=model, provider="anthropic", ledger=LEDGER_BILLED, api_key=api_key, batch=batch,
            long_context=long_ctx, requests=g["requests"],
            input_tokens=int(g["input_tokens"] * drift), output_tokens=int(g["output_tokens"] * drift),
            cache_read_tokens=g["cache_read_tokens"], cache_write_5m_tokens=g["cache_write_5m_tokens"],
            cache_write_1h_tokens=g["cache_write_1h_tokens"],
            metadata={"workspace": "Default"},
        ))
    if day.toordinal() % 9 == 0:
        # Someone tries prompts in the Console's Workbench now and then: billed, never
        # metered by the app (the Reconcile page flags those days).
        out.append(Record(
            external_id=f"{day.isoformat()}|workbench", timestamp=datetime.combine(day, time(0), tzinfo=UTC),
            model="claude-sonnet-4-5", provider="anthropic", ledger=LEDGER_BILLED, api_key="workbench",
            requests=rng.randrange(8, 30), input_tokens=rng.randrange(150_000, 400_000),
            output_tokens=rng.randrange(20_000, 60_000), long_context=False,
            metadata={"workspace": "Default"},
        ))
    return out


def seed_demo(*, days: int = 90, now: datetime | None = None, seed: int = 42) -> tuple[Project, str, int]:
    """(Re)create the demo project; returns (project, ingest key, records stored)."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    User = get_user_model()
    with transaction.atomic():
        Project.objects.filter(slug=DEMO_SLUG).delete()
        user, _ = User.objects.get_or_create(username=DEMO_USER, defaults={"email": "demo@example.com"})
        user.set_password(DEMO_PASSWORD)
        user.is_staff = True
        user.is_superuser = True
        user.save()
        project = Project.objects.create(slug=DEMO_SLUG, name="Acme AI (demo)", timezone="America/New_York")
        project.members.add(user)
        _, raw_key = create_key(project, name="demo")
    today = now.date()
    _demo_prices(today, days=days)
    total = 0
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        growth = 0.7 + 0.5 * (days - offset) / days  # the product grows over the quarter
        metered = _metered(day, rng, now, growth, spike=offset == SPIKE_DAYS_AGO)
        billed = _billed(day, metered, rng) if offset > 0 else []  # consoles lag a day
        code = [r for r in metered if r.feature == "acme-web"]
        metered = [r for r in metered if r.feature != "acme-web"]
        total += record_usage(project=project, source="demo", records=metered).accepted
        total += record_usage(project=project, source=claude_code.SOURCE, records=code).accepted
        total += record_usage(project=project, source="demo-console", records=billed).accepted
    _demo_budget(project)
    add_examples(project, features="acme-web")
    return project, raw_key, total


def _demo_prices(today: date, *, days: int) -> None:
    """The summarizer's negotiated rate, halved PRICE_CUT_DAYS_AGO (a custom model)."""
    ModelPrice.objects.filter(model=SUMMARIZER).delete()
    common = {"model": SUMMARIZER, "provider": "custom", "display_name": "Acme summarizer (fine-tuned)",
              "is_custom": True, "batch_discount": Decimal("0.5")}
    ModelPrice.objects.create(**common, effective_from=today - timedelta(days=days + 30),
                              input=Decimal(4), output=Decimal(16), notes="demo: negotiated rate")
    ModelPrice.objects.create(**common, effective_from=today - timedelta(days=PRICE_CUT_DAYS_AGO),
                              input=Decimal(2), output=Decimal(8), notes="demo: renegotiated, half price")


def _demo_budget(project: Project) -> None:
    Budget.objects.create(
        project=project, name="Monthly LLM budget", scope="project", period="month",
        amount_usd=Decimal("650.00"), ledger="metered", thresholds=[50, 75, 90, 100],
        recipients="team-lead@example.com",
    )
