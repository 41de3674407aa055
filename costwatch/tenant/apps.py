from django.apps import AppConfig


class TenantConfig(AppConfig):
    name = "costwatch.tenant"
    label = "tenant"
    verbose_name = "Projects and keys"
    default_auto_field = "django.db.models.BigAutoField"
