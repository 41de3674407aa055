from django.contrib import admin

from costwatch.tenant.models import IngestKey, Project


class IngestKeyInline(admin.TabularInline):
    model = IngestKey
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # Keys are created on the project's Keys page, where the raw key is shown once.
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]
    inlines = [IngestKeyInline]
