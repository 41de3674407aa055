from django.apps import AppConfig

from costwatch import hooks


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, as Django wants signal receivers (tasks import the models).
        from django.db.models.signals import post_delete, post_save

        from billing import budgets, tasks
        from billing.models import Budget

        hooks.day_rolled_up.connect(tasks.schedule_budget_check, dispatch_uid="billing.budget_check")
        post_save.connect(budgets.budget_changed, sender=Budget, dispatch_uid="billing.budget_saved")
        post_delete.connect(budgets.budget_changed, sender=Budget, dispatch_uid="billing.budget_deleted")
