from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PricingConfig(AppConfig):
    name = "billing.pricing"
    label = "pricing"
    verbose_name = "Prices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, as Django wants signal receivers (the catalog imports the models).
        from billing.pricing import catalog

        # Fresh databases (and test databases after a flush) get the shipped price catalog.
        post_migrate.connect(catalog.load_after_migrate, sender=self)
