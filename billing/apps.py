from django.apps import AppConfig

from costwatch import hooks


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, as Django wants signal receivers (tasks import the models).
        from billing import tasks

        hooks.day_rolled_up.connect(tasks.schedule_budget_check, dispatch_uid="billing.budget_check")
