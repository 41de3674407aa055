from collections.abc import Callable, Sequence
from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models.expressions import Col

from billing.pricing.classes import FEE_COLUMNS, TOKEN_COLUMNS
from costwatch.tenant.models import Project

# Columns of the usage table that store their most common value as NULL (a NULL costs one
# bit of the row's null bitmap, a bigint eight bytes): most of a record's counts are 0, most
# records are one request, and most cost the same without batch or caching discounts.


class _ImpliedCol(Col):
    """The column as the ORM reads it: COALESCE(column, implied). Filters, F() arithmetic,
    Sum() and values() see the value the record means, never the NULL stored for it."""

    def as_sql(self, compiler, connection):
        sql, params = super().as_sql(compiler, connection)
        implied = self.target.implied
        if isinstance(implied, str):  # another column of the same row
            implied = ".".join(map(compiler.quote_name_unless_alias, (self.alias, implied) if self.alias
                                   else (implied,)))
        return f"COALESCE({sql}, {implied})", params


class ImpliedIntegerField(models.BigIntegerField):
    """A bigint stored as NULL when it equals `implied`: a number (0, or 1 for requests) or
    the name of another column of the row (cost_no_batch_nano is mostly cost_nano). Python
    and the ORM only ever see the value; raw SQL reads `read_sql()`."""

    def __init__(self, *args, implied: int | str = 0, **kwargs):
        self.implied = implied
        kwargs["null"] = True
        if not isinstance(implied, str):
            kwargs.setdefault("default", implied)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["null"]
        if self.implied:
            kwargs["implied"] = self.implied
        if kwargs.get("default", ...) == self.implied:
            del kwargs["default"]
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = super().pre_save(model_instance, add)
        if isinstance(self.implied, str) and value == getattr(model_instance, self.implied):
            return None
        return value

    def get_db_prep_save(self, value, connection):
        value = super().get_db_prep_save(value, connection)
        return None if value == self.implied else value

    def from_db_value(self, value, expression, connection):
        return self.implied if value is None and not isinstance(self.implied, str) else value

    @staticmethod
    def storing(fields: Sequence[models.Field]) -> Callable[[Sequence], list]:
        """What the tuple paths (usage.ingest's COPY, usage.bulk) write: a function of a row's
        values in `fields`' order to the values as stored, NULL for each ImpliedIntegerField
        at its implied value, as pre_save() and get_db_prep_save() store a model's, and NULL
        for {} in an EmptyAsNullJSONField. A field implied by another column needs that
        column among `fields`."""
        index = {f.attname: i for i, f in enumerate(fields)}
        implied = [(i, f.implied) for i, f in enumerate(fields) if isinstance(f, ImpliedIntegerField)]
        implied += [(i, {}) for i, f in enumerate(fields) if isinstance(f, EmptyAsNullJSONField)]  # metadata
        if missing := {v for _, v in implied if isinstance(v, str) and v not in index}:
            raise ValueError(f"ImpliedIntegerField.storing: implied by columns not given: {sorted(missing)}")
        numbers = [(i, v) for i, v in implied if not isinstance(v, str)]
        others = [(i, index[v]) for i, v in implied if isinstance(v, str)]
        if len(numbers) == len(fields) and all(isinstance(v, int) for _, v in numbers):
            # only counts (usage.bulk's per row): one C-level pass, {0: None}.get(count, count)
            nulls = [{v: None} for _, v in numbers]
            return lambda values: list(map(dict.get, nulls, values, values))

        def stored(values: Sequence) -> list:
            line = list(values)
            for i, other in others:
                if values[i] == values[other]:
                    line[i] = None
            for i, value in numbers:
                if values[i] == value:
                    line[i] = None
            return line

        return stored

    def read_sql(self) -> str:
        """SQL for this column's value in a raw query over the table (unqualified names)."""
        return f"COALESCE({self.column}, {self.implied})"

    def get_col(self, alias, output_field=None):
        if alias == self.model._meta.db_table and (output_field is None or output_field == self):
            return self.cached_col
        return _ImpliedCol(alias, self, output_field)

    @cached_property
    def cached_col(self):
        return _ImpliedCol(self.model._meta.db_table, self)


# PostgreSQL's natural key (migration 0018): a unique index on a 64-bit hash of
# (source, external_id), the project and the day instead of their text, 24 B an entry
# instead of ~60. Every lookup of ids goes through the hash (natural_key_hash) and compares
# the text; two different ids of a project and day with the same hash are refused with
# usage.ingest.KeyCollision, never taken for a duplicate. `{source}` and `{external_id}`
# are SQL expressions. SQLite keeps the text unique constraint of UsageRecord.Meta.
NATURAL_KEY_HASH = "hashtextextended({external_id}, hashtext({source}))"
NATURAL_KEY_INDEX = "usage_record_natural_key"


def natural_key_hash(source: str = "source", external_id: str = "external_id") -> str:
    """SQL of the natural key's hash of these expressions (default: the table's columns)."""
    return NATURAL_KEY_HASH.format(source=source, external_id=external_id)


def natural_key_index_sql(table: str) -> str:
    """CREATE the natural key's unique index on PostgreSQL (on a partitioned table's parent:
    PostgreSQL makes it on each partition, and on each partition attached later). The hash
    leads, then the project as 4 bytes: (int8, int4, date) packs into 16 B of key."""
    return (f"CREATE UNIQUE INDEX {NATURAL_KEY_INDEX} ON {table} "
            f"(({natural_key_hash()}), ((project_id)::integer), day)")


class EmptyAsNullJSONField(models.JSONField):
    """A JSON object stored as NULL when empty ({}: most usage records' metadata, 5 B of
    jsonb), read back as {}. A key of it (metadata__x) reads NULL either way, as it did
    from {}; raw SQL over the column reads COALESCE(column, '{}')."""

    def __init__(self, *args, **kwargs):
        kwargs["null"] = True
        kwargs.setdefault("default", dict)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["null"]
        return name, path, args, kwargs

    def get_db_prep_save(self, value, connection):
        if isinstance(value, dict) and not value:
            return None
        return super().get_db_prep_save(value, connection)

    def from_db_value(self, value, expression, connection):
        if value is None:
            # the column itself: {}; a key of it (a KeyTransform) stays NULL
            return {} if isinstance(expression, Col) else None
        return super().from_db_value(value, expression, connection)


LEDGER_METERED = "metered"
LEDGER_BILLED = "billed"
LEDGER_CHOICES = [(LEDGER_METERED, "Metered (app-side)"), (LEDGER_BILLED, "Billed (provider console)")]


class ImportJob(models.Model):
    STATUS_CHOICES = [
        ("pending", "Pending"),
        ("running", "Running"),
        ("done", "Done"),
        ("failed", "Failed"),
    ]
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500, blank=True)
    file_size = models.BigIntegerField(default=0)
    format = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default="pending")
    progress_bytes = models.BigIntegerField(default=0)
    rows_read = models.BigIntegerField(default=0)
    records_added = models.BigIntegerField(default=0)
    records_replaced = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    rows_skipped = models.BigIntegerField(default=0)  # rows without usage: empty buckets, …
    records_merged = models.BigIntegerField(default=0)  # reported costs set on token rows
    records_unpriced = models.BigIntegerField(default=0)
    cost_nano = models.BigIntegerField(default=0)
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    error = models.TextField(blank=True)
    # What this import restated in the billed ledger, e.g. "replaced 212 billed rows of
    # 2026-09-01…2026-09-30 from the Console usage CSV" (usage.billed).
    notes = models.TextField(blank=True)
    sync_provider = models.CharField(max_length=16, blank=True)  # set: a provider sync run
    # Liveness of a running import (usage.imports.fail_stale_jobs): the process running it
    # ("host:pid") and, on PostgreSQL, a heartbeat written every few seconds.
    worker = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class UsageCounts(models.Model):
    """The request, token and tool-call counts a usage record and every rollup carry: one
    column per name of billing.pricing.classes.TOKEN_COLUMNS (input is uncached text only, output
    includes reasoning, OpenAI's cache writes are the 30m / 12h classes, audio is uncached
    audio input) and FEE_COLUMNS (tool calls billed per request)."""

    class Meta:
        abstract = True


for _column in ["requests", *TOKEN_COLUMNS, *FEE_COLUMNS]:
    UsageCounts.add_to_class(_column, models.BigIntegerField(default=0))


class UsageRecord(models.Model):
    """One priced unit of usage: a request (metered) or a console row (billed).

    Its counts (UsageCounts' names) and fees_nano store 0 as NULL, `requests` stores 1 and
    the costs without discounts store cost_nano as NULL (ImpliedIntegerField:
    the ORM reads the value, raw SQL its read_sql()); the rollups keep NOT NULL columns.

    On PostgreSQL the table is range-partitioned by month on `day` (usage.partitions;
    primary key (id, day) in the database, `id` from one sequence). A unique key must then
    hold `day`, so the natural key below only refuses a same-day duplicate; an id re-sent
    on another day is found by usage.ingest's lookup under per-id advisory locks. On
    PostgreSQL the natural key is a unique index on a hash of the text (NATURAL_KEY_HASH,
    migration 0018), not the constraint of Meta below, which SQLite keeps. The
    foreign keys have no database constraint: a partition attached while another
    transaction writes a project or an import job would wait for it (Django still cascades)."""

    # no index of its own: the other indexes lead with the project (the natural key, with
    # its hash on PostgreSQL)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="records", db_constraint=False,
                                db_index=False)
    source = models.CharField(max_length=40)
    external_id = models.CharField(max_length=255)
    ledger = models.CharField(max_length=8, choices=LEDGER_CHOICES, default=LEDGER_METERED)
    timestamp = models.DateTimeField()
    day = models.DateField()
    provider = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=120)
    # the price table's name of the model, stored only when it differs from `model` ("": the
    # same, or no price known; readers take `priced_model or model`)
    priced_model = models.CharField(max_length=120, blank=True)
    feature = models.CharField(max_length=200, blank=True)
    end_user = models.CharField(max_length=200, blank=True)
    api_key = models.CharField(max_length=200, blank=True)
    # Anthropic workspace id ('' = the default workspace) or OpenAI project id ('' = not
    # broken down by project); a name only while the directory can't map it to an id.
    workspace = models.CharField(max_length=200, blank=True, default="")
    batch = models.BooleanField(default=False)
    service_tier = models.CharField(max_length=40, blank=True)
    speed = models.CharField(max_length=16, blank=True)
    long_context = models.BooleanField(default=False)
    # Where the request was processed, when that changes its price: Anthropic's
    # inference_geo ("us"), OpenAI regional processing ("eu", "us", …). "" / "global" =
    # global routing. Bedrock names regional endpoints in the model id (us.anthropic.…).
    region = models.CharField(max_length=40, blank=True, default="")
    requests = ImpliedIntegerField(implied=1)  # a record is one request unless it says more
    # the token and tool-call counts: UsageCounts' names, added below
    # Money in integer nano-USD. cost_nano is NULL while no price is known ("unpriced").
    cost_nano = models.BigIntegerField(null=True, blank=True)
    # NULL in the database when equal to cost_nano (the ORM reads COALESCE(x, cost_nano))
    cost_no_cache_nano = ImpliedIntegerField(implied="cost_nano", blank=True)
    cost_no_batch_nano = ImpliedIntegerField(implied="cost_nano", blank=True)
    reported_cost_nano = models.BigIntegerField(null=True, blank=True)
    fees_nano = ImpliedIntegerField(help_text="The tool fees part of cost_nano")
    metadata = EmptyAsNullJSONField(blank=True)  # {} stored as NULL
    import_job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False,
                                   db_index=False)  # indexed where set (Meta)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source", "external_id", "day"], name="usage_record_natural_key"
            )
        ]
        indexes = [
            # also the Records page's: newest first is day by day (an incremental sort of one
            # day's rows on PostgreSQL) instead of a (…, day, timestamp) index of 50 B a record
            models.Index(fields=["project", "ledger", "day"], name="usage_rec_proj_ledger_day"),
            models.Index(fields=["project", "day", "model"], name="usage_rec_proj_day_model"),
            models.Index(fields=["import_job"], name="usage_rec_import_job", condition=models.Q(import_job__isnull=False)),
            models.Index(
                fields=["project", "cost_nano"],
                name="usage_rec_unpriced",
                condition=models.Q(cost_nano__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"

    @property
    def cache_write_tokens(self) -> int:
        """Cache writes of every TTL (Anthropic's 5m / 1h, OpenAI's 30m / 12h)."""
        return (self.cache_write_5m_tokens + self.cache_write_1h_tokens + self.cache_write_30m_tokens
                + self.cache_write_12h_tokens)

    @property
    def tool_requests(self) -> int:
        """Tool calls billed per request (web search, web fetch, file search, grounding)."""
        return self.web_search_requests + self.web_fetch_requests + self.file_search_requests + self.grounding_requests


for _column in [*TOKEN_COLUMNS, *FEE_COLUMNS]:
    UsageRecord.add_to_class(_column, ImpliedIntegerField())


class DirectoryEntry(models.Model):
    """The key and workspace directory: a provider's id for an API key or a workspace
    (Anthropic) / project (OpenAI) and its name. Console CSVs carry names, the APIs ids;
    entries come from the sources that carry both, or from the user (who then wins)."""

    WORKSPACE = "workspace"
    API_KEY = "api_key"
    KIND_CHOICES = [(WORKSPACE, "Workspace / project"), (API_KEY, "API key")]
    ORIGIN_CHOICES = [("provider", "Provider API"), ("import", "Import"), ("user", "Edited by a user")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="directory")
    provider = models.CharField(max_length=40)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    ident = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    origin = models.CharField(max_length=16, choices=ORIGIN_CHOICES, default="import")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "provider", "kind", "ident"], name="directory_entry_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.ident} = {self.name}"


class ProviderConnection(models.Model):
    """A project's admin key for one provider's usage and cost APIs (usage.sync). The key is
    stored encrypted (costwatch.crypto) and never shown again; `key_prefix` identifies it."""

    PROVIDER_CHOICES = [("anthropic", "Anthropic"), ("openai", "OpenAI")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="connections")
    provider = models.CharField(max_length=16, choices=PROVIDER_CHOICES)
    key_encrypted = models.TextField()
    key_prefix = models.CharField(max_length=24)
    created_at = models.DateTimeField(auto_now_add=True)
    synced_through = models.DateField(null=True, blank=True, help_text="Last fully synced UTC day")
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "provider"], name="provider_connection_unique")]

    def __str__(self) -> str:
        return f"{self.project} {self.provider} {self.key_prefix}…"


class RollupSums(UsageCounts):
    """The sums every rollup table carries."""

    # requests, token and tool-call counts: UsageCounts
    cost_nano = models.BigIntegerField(default=0)
    cost_no_cache_nano = models.BigIntegerField(default=0)
    cost_no_batch_nano = models.BigIntegerField(default=0)
    reported_cost_nano = models.BigIntegerField(default=0)
    fees_nano = models.BigIntegerField(default=0)
    unpriced_requests = models.BigIntegerField(default=0)
    unpriced_records = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class RollupBase(RollupSums):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    ledger = models.CharField(max_length=8, choices=LEDGER_CHOICES)
    provider = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=120)

    class Meta:
        abstract = True


class DailyUsage(RollupBase):
    """day × ledger × provider × model × feature × end_user × api_key × workspace × batch."""

    feature = models.CharField(max_length=200, blank=True)
    end_user = models.CharField(max_length=200, blank=True)
    api_key = models.CharField(max_length=200, blank=True)
    workspace = models.CharField(max_length=200, blank=True, default="")
    batch = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["project", "ledger", "day"], name="daily_proj_ledger_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.ledger} {self.model}"


class DailyModelUsage(RollupBase):
    """The coarse rollup (day × ledger × provider × model) that top-level charts read."""

    class Meta:
        indexes = [models.Index(fields=["project", "ledger", "day"], name="dailymodel_proj_ledger_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.ledger} {self.model}"


class DimensionUsage(RollupSums):
    """ledger × one dimension (feature / end_user / api_key) × a block of days: the breakdowns
    by one of these read this instead of the detailed rollup, which grows with their product.

    A row covers `span` days from `day`: span 1 is a single day; spans 4, 16, 64 and 256 are
    blocks aligned on the day ordinal (a block of s days starts where ordinal % s == 0), so a
    date range is the union of a few blocks (usage.rollups.blocks): a breakdown by 2,000 end
    users over 90 days reads about a dozen blocks instead of 90 days."""

    DIMENSIONS = ["feature", "end_user", "api_key", "workspace"]
    SPAN_FACTOR = 4
    SPANS = [4, 16, 64, 256]  # each SPAN_FACTOR × the one before (1 = a single day)

    # The composite indexes lead with project; a separate FK index tempted the planner
    # into a parallel scan of every day of the project (bench/dashboard.py).
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(help_text="First day of the block")
    span = models.PositiveSmallIntegerField(default=1, help_text="Days in the block: 1, 4, 16, 64 or 256")
    ledger = models.CharField(max_length=8, choices=LEDGER_CHOICES)
    dimension = models.CharField(max_length=16)
    value = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "ledger", "dimension", "span", "day"], name="dimusage_proj_led_dim_span_day"),
            models.Index(fields=["project", "ledger", "dimension", "value", "span", "day"], name="dimusage_led_dim_val_span_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} +{self.span}d {self.ledger} {self.dimension}={self.value}"


class DirtyDay(models.Model):
    """A (project, day, ledger) whose rollups are stale. Lives in the DB so nothing is lost
    while the broker is down; `marked_at` lets a running rollup tell a newer mark apart.

    Coalescing (usage.tasks): the ingest that creates the mark claims it (`queued_at`) and
    queues one rollup for `due_at`, a short interval later; later ingests of the day only
    move `marked_at`. A rollup that finds a newer mark when done queues the next pass one
    interval later, so a day under load is recomputed once per interval."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    ledger = models.CharField(max_length=8, choices=LEDGER_CHOICES)
    marked_at = models.DateTimeField()
    # Since when the rollups miss records: the first mark, or the start of the last pass
    # that left a newer mark. now - the oldest of these is the rollup lag.
    dirty_since = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, help_text="When the queued rollup runs")
    # The claim of the rollup task that owns the mark (NULL: none queued); a task whose
    # claim is not the mark's returns without recomputing.
    queued_at = models.DateTimeField(null=True, blank=True)
    # A rollup that failed: how often, the last error, and when the catch-up tries again
    # (usage.rollups.record_failure); shown to staff in the admin.
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    # The mark of the last write that needs the day recomputed from its raw records (NULL:
    # every write since the last pass left PendingRollup ranges, which a pass adds on; see
    # usage.rollups). mark_dirty sets it unless told otherwise: a full recompute is always right.
    full_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "day", "ledger"], name="dirty_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.ledger}"


class PendingRollup(models.Model):
    """Records of a (project, day, ledger) that no rollup holds yet, as a range of ids:
    PostgreSQL's ingest API batches write one per (day, ledger) and block of ids they took
    (usage.bulk.store), in the transaction that stores the records, so a committed range
    always names committed records. A rollup pass deletes the committed ranges of its day
    (a range committed later stays for the next pass) and then adds their records' sums; a
    full recompute of the day deletes them in the statement that reads the day's raw
    records, so both see the same snapshot (usage.rollups)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_constraint=False,
                                db_index=False)
    day = models.DateField()
    ledger = models.CharField(max_length=8, choices=LEDGER_CHOICES)
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["project", "day", "ledger"], name="pending_rollup_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.ledger} {self.first_id}-{self.last_id}"
