from django.db import models

from costwatch.tenant.models import Project
from usage.models import LEDGER_CHOICES, LEDGER_METERED

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
    # Bumped on every change of the amount: an alert fires once per (period, threshold,
    # amount revision), so a threshold re-armed by a raise can fire again (billing.alerts).
    amount_revision = models.IntegerField(default=0)
    # Deleting a budget archives it: it stops checking and leaves the page, its alert
    # history stays.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AlertEvent(models.Model):
    """One threshold crossing in one period. Unique per (budget, period_start, threshold,
    revision): the database, not the workers, makes each alert fire exactly once per
    amount revision of the budget. An amount change that leaves a fired threshold no
    longer crossed re-arms it (`rearmed_at`): it no longer counts as fired and can fire
    once more, under the new revision. The forecast alert uses threshold = FORECAST."""

    FORECAST = -1

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateField()
    threshold = models.IntegerField()
    revision = models.IntegerField(default=0)  # the budget's amount_revision when it fired
    rearmed_at = models.DateTimeField(null=True, blank=True)
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
                fields=["budget", "period_start", "threshold", "revision"],
                name="alert_once_per_period_revision",
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


class Plan(models.Model):
    """A flat-rate subscription (e.g. a Claude or ChatGPT plan) to weigh against metered API
    cost: a price per month or week per seat and an included allowance per week or per
    5-hour window. The shipped rows are examples to edit (terms change; check the vendor)."""

    PER_CHOICES = [("month", "per month"), ("week", "per week")]
    UNIT_CHOICES = [("messages", "messages (requests)"), ("tokens", "tokens")]
    WINDOW_CHOICES = [("week", "per week"), ("5h", "per 5-hour window")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="plans")
    name = models.CharField(max_length=100)
    price_usd = models.DecimalField(max_digits=10, decimal_places=2)
    per = models.CharField(max_length=8, choices=PER_CHOICES, default="month")
    seats = models.PositiveIntegerField(default=1)
    allowance = models.BigIntegerField(null=True, blank=True, help_text="Per seat; empty = no stated limit")
    allowance_unit = models.CharField(max_length=10, choices=UNIT_CHOICES, default="messages")
    allowance_window = models.CharField(max_length=4, choices=WINDOW_CHOICES, default="5h")
    windows_per_week = models.PositiveSmallIntegerField(
        default=10, help_text="5-hour windows a seat uses in a week (for a 5-hour allowance)")
    covers_models = models.CharField(max_length=200, default="claude-",
                              help_text="Comma-separated model name prefixes the plan covers")
    features = models.CharField(max_length=500, blank=True,
                                help_text="Comma-separated features it would replace; empty = all metered usage on those models")
    is_example = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["price_usd", "name"]

    def __str__(self) -> str:
        return self.name
