from django import forms

from billing.models import Plan


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = ["name", "price_usd", "per", "seats", "allowance", "allowance_unit", "allowance_window",
                  "windows_per_week", "covers_models", "features"]
        labels = {"price_usd": "Price ($)", "covers_models": "Models (prefixes)", "windows_per_week": "5-h windows / week"}

    def clean_price_usd(self):
        value = self.cleaned_data["price_usd"]
        if value < 0:
            raise forms.ValidationError("Expected a price of $0 or more.")
        return value
