from django.contrib import admin

from usage.models import DailyUsage, ImportJob, IngestKey, Project, UsageRecord


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


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "project", "ledger", "model", "feature", "end_user", "cost_nano"]
    list_filter = ["ledger", "source", "provider"]
    search_fields = ["external_id", "model", "feature", "end_user"]
    raw_id_fields = ["import_job"]
    show_full_result_count = False


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    list_display = ["day", "project", "ledger", "model", "feature", "requests", "cost_nano"]
    list_filter = ["ledger"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["created_at", "project", "file_name", "format", "status", "records_added"]
