from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from usage.charts import stacked_daily
from usage.models import Project
from usage.projects import create_key, projects_for, revoke_key, user_can_see
from usage.queries import SpendQuery, spend, usd


def project_for_user(request, slug: str) -> Project:
    project = get_object_or_404(Project, slug=slug)
    if not user_can_see(request.user, project):
        raise Http404("No such project")
    return project


def home(request):
    projects = projects_for(request.user)
    if len(projects) == 1:
        return redirect("overview", slug=projects[0].slug)
    return render(request, "usage/home.html", {"projects": projects})


def overview(request, slug: str):
    project = project_for_user(request, slug)
    today = timezone.now().astimezone(ZoneInfo("UTC")).date()
    month_start = today.replace(day=1)
    start = today - timedelta(days=29)
    rows, total, ledger = spend(SpendQuery(project=project, start=start, end=today, group_by=["day", "model"]))
    _, mtd, _ = spend(SpendQuery(project=project, start=month_start, end=today, ledger=ledger))
    context = {
        "project": project,
        "ledger": ledger,
        "mtd_usd": usd(mtd["cost_nano"]),
        "period_usd": usd(total["cost_nano"]),
        "unpriced": total["unpriced_records"],
        "figure": stacked_daily(rows, key="model", start=start, end=today),
        "has_data": bool(rows),
    }
    return render(request, "usage/overview.html", context)


@require_http_methods(["GET", "POST"])
def keys(request, slug: str):
    project = project_for_user(request, slug)
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            key = get_object_or_404(project.keys, pk=request.POST["revoke"])
            revoke_key(key)
            messages.success(request, f"Key {key.prefix}… revoked.")
            return redirect("keys", slug=slug)
        _, new_key = create_key(project, name=request.POST.get("name", "").strip()[:100] or "default")
    return render(
        request,
        "usage/keys.html",
        {"project": project, "keys": project.keys.order_by("-created_at"), "new_key": new_key},
    )
