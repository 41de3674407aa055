"""The Connections page: a project's admin key per provider (stored encrypted, shown by
prefix only), "test connection", "sync now", and the sync state."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from kombu.exceptions import OperationalError as KombuOperationalError

from costwatch.tenant.access import project_for_user
from usage.provider_api import PROVIDER_NAMES
from usage.sync import set_key, test_connection
from usage.tasks import sync_provider


@require_http_methods(["GET", "POST"])
def connections(request, slug: str):
    project = project_for_user(request, slug)
    if request.method == "POST":
        provider = request.POST.get("provider", "")
        if provider not in PROVIDER_NAMES:
            messages.error(request, "Unknown provider.")
            return redirect("connections", slug=slug)
        connection = project.connections.filter(provider=provider).first()
        action = request.POST.get("action", "")
        name = PROVIDER_NAMES[provider]
        if action == "save":
            try:
                connection = set_key(project=project, provider=provider, key=request.POST.get("key", ""))
            except ValueError as exc:
                messages.error(request, f"{name}: {exc}")
            else:
                messages.success(request, f"{name} admin key {connection.key_prefix}… saved (encrypted).")
        elif connection is None:
            messages.error(request, f"No {name} admin key yet.")
        elif action == "test":
            error = test_connection(connection)
            if error:
                messages.error(request, f"{name}: {error}")
            else:
                messages.success(request, f"{name}: the admin key works.")
        elif action == "sync":
            try:
                sync_provider.delay_on_commit(connection.pk)
                messages.success(request, f"{name}: sync started; see the sync history on the Imports page.")
            except KombuOperationalError:
                messages.error(request, "The task queue is unreachable (is the Celery broker running?).")
        elif action == "remove":
            connection.delete()
            messages.success(request, f"{name} admin key removed; synced data stays.")
        return redirect("connections", slug=slug)
    existing = {c.provider: c for c in project.connections.all()}
    providers = [{"slug": p, "name": n, "connection": existing.get(p)} for p, n in PROVIDER_NAMES.items()]
    return render(request, "usage/connections.html", {"project": project, "providers": providers})
