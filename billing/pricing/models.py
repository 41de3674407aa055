"""The price catalog: rates per model over time and the other spellings of model ids.
The tables keep the names they had when these models lived in `billing`."""

from django.db import models

RATE = {"max_digits": 14, "decimal_places": 6, "null": True, "blank": True}
FEE = {"max_digits": 10, "decimal_places": 4, "null": True, "blank": True}


class ModelPrice(models.Model):
    """Rates in USD per million tokens, in force from `effective_from` (UTC day) until the
    next row for the same model. A NULL rate means the class doesn't exist for the model:
    cache read / cache write fall back to the input rate, long-context and priority
    rates fall back to the standard ones."""

    model = models.CharField(max_length=120, help_text="Canonical model id, e.g. claude-sonnet-4-5")
    provider = models.CharField(max_length=40)
    display_name = models.CharField(max_length=120, blank=True)
    effective_from = models.DateField()
    input = models.DecimalField(max_digits=14, decimal_places=6)
    output = models.DecimalField(max_digits=14, decimal_places=6)
    cache_read = models.DecimalField(**RATE)
    cache_write_5m = models.DecimalField(**RATE)
    cache_write_1h = models.DecimalField(**RATE)
    cache_write_30m = models.DecimalField(**RATE, help_text="OpenAI 30-minute cache writes; empty = input rate")
    cache_write_12h = models.DecimalField(**RATE, help_text="OpenAI 12-hour cache writes; empty = input rate")
    audio_input = models.DecimalField(**RATE, help_text="Audio prompt tokens; empty = input rate")
    batch_discount = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True, default=0.5,
        help_text="Fraction taken off every class for Batch API requests (0.5 = 50 % off); empty = no batch API",
    )
    long_context_threshold = models.BigIntegerField(
        null=True, blank=True, help_text="Prompt tokens above which the whole request is priced at the long-context rates"
    )
    lc_input = models.DecimalField(**RATE)
    lc_output = models.DecimalField(**RATE)
    lc_cache_read = models.DecimalField(**RATE)
    lc_cache_write_5m = models.DecimalField(**RATE)
    lc_cache_write_1h = models.DecimalField(**RATE)
    lc_cache_write_30m = models.DecimalField(**RATE)
    lc_cache_write_12h = models.DecimalField(**RATE)
    priority_input = models.DecimalField(**RATE)
    priority_output = models.DecimalField(**RATE)
    priority_cache_read = models.DecimalField(**RATE)
    fast_multiplier = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    batch_cache_read = models.DecimalField(
        **RATE, help_text="Cache-read rate in batch when the provider states it on its own "
        "(Gemini: the standard cache price); empty = cache_read with the batch discount",
    )
    peak_hours = models.CharField(
        max_length=60, blank=True, help_text='UTC hour windows priced at the peak multiplier, e.g. "01-04,06-10"'
    )
    peak_multiplier = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    # Per-request fees in USD per 1,000 requests; empty = the model has no such tool.
    web_search_fee = models.DecimalField(**FEE, help_text="USD per 1,000 web searches")
    web_fetch_fee = models.DecimalField(**FEE, help_text="USD per 1,000 web fetches (0: tokens only)")
    file_search_fee = models.DecimalField(**FEE, help_text="USD per 1,000 file search calls")
    grounding_fee = models.DecimalField(**FEE, help_text="USD per 1,000 grounded requests (Gemini)")
    regional_multiplier = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True,
        help_text="Multiplier on every token class for regional processing (Anthropic inference_geo "
        "us, Bedrock regional endpoints, OpenAI regional processing), e.g. 1.1; empty = none",
    )
    source_url = models.URLField(max_length=500, blank=True)
    is_custom = models.BooleanField(default=False)
    origin = models.CharField(
        max_length=12, default="curated", choices=[("curated", "curated"), ("synced", "synced"), ("custom", "custom")],
        help_text="curated: the shipped catalog; synced: added by sync_prices; custom: added in the admin",
    )
    notes = models.TextField(blank=True)

    class Meta:
        db_table = "billing_modelprice"
        ordering = ["provider", "model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["model", "effective_from"], name="model_price_unique")
        ]

    def __str__(self) -> str:
        return f"{self.model} from {self.effective_from}"


class ModelAlias(models.Model):
    """Maps another spelling (display name, dated id, gateway id) to a canonical model id."""

    alias = models.CharField(max_length=200, unique=True)
    model = models.CharField(max_length=120)
    is_custom = models.BooleanField(default=False)

    class Meta:
        db_table = "billing_modelalias"
        ordering = ["alias"]
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return f"{self.alias} → {self.model}"


class PriceChange(models.Model):
    """The audit of sync_prices --apply: one row per model and field it added or changed."""

    at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=40)
    source_version = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=120)
    effective_from = models.DateField()
    field = models.CharField(max_length=40, help_text='a rate field, or "model" for a model new to the catalog')
    old = models.CharField(max_length=40, blank=True)
    new = models.CharField(max_length=40, blank=True)

    class Meta:
        db_table = "billing_pricechange"  # the pricing tables keep the billing_ prefix
        ordering = ["-at", "model", "field"]

    def __str__(self) -> str:
        return f"{self.source}: {self.model} {self.field} {self.old or '-'} -> {self.new or '-'}"


class PricesVersion(models.Model):
    """One row: a number that changes with every write to the price and alias tables (a
    database trigger sets it in the writing transaction, whatever wrote: the ORM, a bulk
    update, raw SQL; see migration 0004). Equal versions, equal price books: a process keeps
    its book while the version stays (billing.pricing.rates.PriceBook.current). PostgreSQL
    takes the next number of a sequence, never reused (rolled back or not) and new for each
    write of a transaction; SQLite a random 64-bit number."""

    version = models.BigIntegerField()

    class Meta:
        db_table = "billing_pricesversion"

    def __str__(self) -> str:
        return f"prices version {self.version}"
