from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _load_catalog(sender, **kwargs):
    # Imported here: catalog.py imports the models, which can't load before the app registry.
    from billing.pricing.catalog import load_catalog

    load_catalog()


class PricingConfig(AppConfig):
    name = "billing.pricing"
    label = "pricing"
    verbose_name = "Prices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Fresh databases (and test databases after a flush) get the shipped price catalog.
        post_migrate.connect(_load_catalog, sender=self)
