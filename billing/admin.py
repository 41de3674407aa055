from django.contrib import admin

from billing.models import AlertEvent, Budget, DigestSent
from billing.pricing.models import ModelAlias, ModelPrice, PriceChange
from billing.web.forms import WebhookURLAdminForm
from usage.tasks import reprice_unpriced


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["model", "provider", "effective_from", "input", "output", "cache_read",
                    "cache_write_5m", "cache_write_1h", "origin"]
    list_filter = ["provider", "origin"]
    search_fields = ["model", "display_name"]

    def save_model(self, request, obj, form, change):
        # A price added or edited here is the user's own: the catalog loader keeps it.
        obj.is_custom = True
        obj.origin = "custom"
        super().save_model(request, obj, form, change)
        # Records that were unpriced for lack of this model get their cost now.
        reprice_unpriced.delay_on_commit()


@admin.register(PriceChange)
class PriceChangeAdmin(admin.ModelAdmin):
    """What sync_prices --apply changed: read-only history."""

    list_display = ["at", "source", "source_version", "model", "effective_from", "field", "old", "new"]
    list_filter = ["source", "field"]
    search_fields = ["model"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "model", "is_custom"]
    search_fields = ["alias", "model"]

    def save_model(self, request, obj, form, change):
        obj.is_custom = True
        super().save_model(request, obj, form, change)
        reprice_unpriced.delay_on_commit()


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    form = WebhookURLAdminForm
    list_display = ["name", "project", "scope", "scope_value", "period", "amount_usd"]


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    form = WebhookURLAdminForm
    list_display = ["budget", "period_start", "threshold", "fired_at", "sent_at", "webhook_sent_at",
                    "attempts", "last_error"]
    list_filter = ["period_start"]
    raw_id_fields = ["budget", "bundled_into"]


@admin.register(DigestSent)
class DigestSentAdmin(admin.ModelAdmin):
    list_display = ["project", "week_start", "sent_at", "attempts", "last_error"]
