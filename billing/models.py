from django.db import models

from usage.models import LEDGER_CHOICES, LEDGER_METERED, Project

RATE = {"max_digits": 14, "decimal_places": 6, "null": True, "blank": True}


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
    priority_input = models.DecimalField(**RATE)
    priority_output = models.DecimalField(**RATE)
    priority_cache_read = models.DecimalField(**RATE)
    fast_multiplier = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    source_url = models.URLField(max_length=500, blank=True)
    is_custom = models.BooleanField(default=False)
    notes = models.TextField(blank=True)

    class Meta:
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
        ordering = ["alias"]
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return f"{self.alias} → {self.model}"


DEFAULT_THRESHOLDS = [50, 75, 90, 100]


def default_thresholds() -> list[int]:
    return list(DEFAULT_THRESHOLDS)


class Budget(models.Model):
    SCOPE_CHOICES = [
        ("project", "Whole project"),
        ("provider", "Provider"),
        ("model", "Model"),
        ("feature", "Feature"),
        ("end_user", "End user"),
        ("api_key", "API key"),
    ]
    PERIOD_CHOICES = [("month", "Calendar month"), ("week", "Week (Monday, UTC)"), ("day", "Day")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="budgets")
    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=16, choices=SCOPE_CHOICES, default="project")
    scope_value = models.CharField(max_length=200, blank=True)
    period = models.CharField(max_length=8, choices=PERIOD_CHOICES, default="month")
    amount_usd = models.DecimalField(max_digits=14, decimal_places=2)
    ledger = models.CharField(max_length=8, choices=LEDGER_CHOICES, default=LEDGER_METERED)
    thresholds = models.JSONField(default=default_thresholds, help_text="Percentages of the amount, e.g. [50, 75, 90, 100]")
    forecast_alert = models.BooleanField(default=True)
    recipients = models.TextField(blank=True, help_text="Comma-separated e-mail addresses")
    webhook_url = models.URLField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AlertEvent(models.Model):
    """One threshold crossing in one period. Unique per (budget, period_start, threshold):
    the database, not the workers, makes each alert fire exactly once. The forecast
    alert uses threshold = FORECAST."""

    FORECAST = -1

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateField()
    threshold = models.IntegerField()
    fired_at = models.DateTimeField(auto_now_add=True)
    spend_nano = models.BigIntegerField(default=0)
    amount_nano = models.BigIntegerField(default=0)
    projected_nano = models.BigIntegerField(null=True, blank=True)
    other_thresholds = models.JSONField(default=list, blank=True)
    # Thresholds crossed in the same check are told in one message: the highest one's
    # event carries the message, the others point at it and are delivered with it.
    bundled_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="bundled"
    )
    runout_date = models.DateField(null=True, blank=True)
    recipients = models.TextField(blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    webhook_sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-fired_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_start", "threshold"], name="alert_once_per_period"
            )
        ]

    def __str__(self) -> str:
        what = "forecast" if self.threshold == self.FORECAST else f"{self.threshold} %"
        return f"{self.budget} {what} ({self.period_start})"


class DigestSent(models.Model):
    """One weekly digest per (project, week): claimed before sending, so an hourly beat
    and a second worker never send it twice."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "week_start"], name="digest_once_per_week")
        ]

    def __str__(self) -> str:
        return f"digest {self.project_id} {self.week_start}"
