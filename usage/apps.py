from django.apps import AppConfig

from costwatch import hooks


class UsageConfig(AppConfig):
    name = "usage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, as Django wants signal receivers (tasks import the models).
        from usage import tasks

        hooks.day_marked_dirty.connect(tasks.schedule_rollup, dispatch_uid="usage.schedule_rollup")
