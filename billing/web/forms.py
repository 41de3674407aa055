from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from billing.models import DEFAULT_THRESHOLDS, Budget
from billing.webhooks import WebhookURLRefused, check_url
from costwatch.tenant.models import Project

MAX_THRESHOLD = 1000


def thresholds_text(values) -> str:
    return ", ".join(str(v) for v in values)


def clean_addresses(raw: str) -> str:
    """Comma-separated e-mail addresses, each validated; normalized to "a, b"."""
    addresses = [a.strip() for a in re.split(r"[,;\s]+", raw or "") if a.strip()]
    bad = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(f"Not a valid e-mail address: {', '.join(bad)}")
    return ", ".join(dict.fromkeys(addresses))


def clean_webhook_url(url: str) -> str:
    """Empty, or a URL the server may POST to (billing.webhooks.check_url)."""
    if url:
        try:
            check_url(url)
        except WebhookURLRefused as exc:
            raise ValidationError(str(exc)) from None
    return url


class WebhookURLAdminForm(forms.ModelForm):
    """The admin's form for models with a webhook_url: the same check as BudgetForm."""

    webhook_url = forms.URLField(required=False, max_length=500, assume_scheme="https")

    def clean_webhook_url(self) -> str:
        return clean_webhook_url(self.cleaned_data.get("webhook_url"))


class BudgetForm(forms.ModelForm):
    """The one validation of a budget, for the settings page and the API alike."""

    thresholds = forms.CharField(
        required=False, initial=thresholds_text(DEFAULT_THRESHOLDS),
        help_text="Percent of the amount, comma-separated, e.g. 50, 75, 90, 100",
    )
    webhook_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Webhook URL (Slack-compatible)",
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/services/…"}),
    )
    amount_usd = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"),
                                    label="Amount (USD)")

    class Meta:
        model = Budget
        fields = ["name", "scope", "scope_value", "period", "amount_usd", "ledger", "thresholds",
                  "forecast_alert", "recipients", "webhook_url", "is_active"]
        labels = {"scope_value": "Scope value", "forecast_alert": "Alert when projected to exceed",
                  "webhook_url": "Webhook URL (Slack-compatible)", "is_active": "Active"}
        widgets = {"recipients": forms.TextInput(attrs={"placeholder": "ops@example.com, cfo@example.com"}),
                   "scope_value": forms.TextInput(attrs={"placeholder": "e.g. claude-sonnet-4-5"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["thresholds"] = thresholds_text(self.instance.thresholds)
        # the page offers the values seen lately in a <datalist> next to the field
        self.fields["scope_value"].widget.attrs["list"] = f"{self['scope_value'].auto_id}-values"

    def clean_thresholds(self) -> list[int]:
        raw = self.cleaned_data.get("thresholds") or ""
        values = set()
        for part in (p for p in re.split(r"[,\s;]+", raw.replace("%", " ")) if p):
            try:
                value = int(part)
            except ValueError:
                raise ValidationError(f"“{part}” is not a whole number of percent.") from None
            if not 1 <= value <= MAX_THRESHOLD:
                raise ValidationError(f"{value} %: thresholds are between 1 and {MAX_THRESHOLD} %.")
            values.add(value)
        return sorted(values)

    def clean_recipients(self) -> str:
        return clean_addresses(self.cleaned_data.get("recipients"))

    def clean_webhook_url(self) -> str:
        return clean_webhook_url(self.cleaned_data.get("webhook_url"))

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == "project":
            data["scope_value"] = ""
        elif scope and not (data.get("scope_value") or "").strip():
            self.add_error("scope_value", f"Which {dict(Budget.SCOPE_CHOICES)[scope].lower()}? "
                                          "Enter the value this budget covers.")
        if "thresholds" in data and not data["thresholds"] and not data.get("forecast_alert"):
            self.add_error("thresholds", "Add at least one threshold or turn on the forecast alert.")
        return data


class DigestForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["weekly_digest", "digest_recipients"]
        labels = {"weekly_digest": "Send a weekly digest (Mondays 09:00, project time zone)",
                  "digest_recipients": "Digest recipients"}
        widgets = {"digest_recipients": forms.TextInput(attrs={"placeholder": "team@example.com"})}

    def clean_digest_recipients(self) -> str:
        return clean_addresses(self.cleaned_data.get("digest_recipients"))

    def clean(self):
        data = super().clean()
        if data.get("weekly_digest") and not data.get("digest_recipients"):
            self.add_error("digest_recipients", "Who should get it? Add at least one address.")
        return data
