from django.contrib import admin

from usage.models import DailyUsage, DirtyDay, ImportJob, UsageRecord


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


@admin.register(DirtyDay)
class DirtyDayAdmin(admin.ModelAdmin):
    """Stale rollups; a failing one shows its error, attempts and next try."""

    list_display = ["day", "project", "ledger", "marked_at", "attempts", "retry_at", "error"]
    list_filter = ["ledger"]
    readonly_fields = ["project", "day", "ledger", "marked_at", "attempts", "retry_at", "error"]
