"""Who may read a project: THE one access check, used by the pages and the API.

A logged-in user sees the projects they are a member of (a superuser sees all); an ingest
key sees its own project only. Pages answer a project you may not see with 404 (no hint
that it exists); the API answers 404 for a session and 403 for a key of another project.
"""

from __future__ import annotations

from django.http import Http404
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from costwatch.tenant.keys import authenticate_key
from costwatch.tenant.models import IngestKey, Project


class NoAccess(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def projects_for(user) -> list[Project]:
    """The projects a user may see."""
    return list(_visible(user))


def _visible(user):
    """The projects `user` may see, as a queryset to narrow further (a page's project and
    the membership in one query, not two)."""
    if user is None or not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.all() if user.is_superuser else Project.objects.filter(members=user)


def readable_project(user, slug: str | None, *, key: IngestKey | None = None) -> Project:
    """The project `slug` names, if the key or user may read it; raises NoAccess."""
    if key is not None:
        if slug and slug != key.project.slug:
            raise NoAccess(403, "this key belongs to another project")
        return key.project
    if not slug:
        raise NoAccess(400, "project: required when authenticating with a session")
    project = _visible(user).filter(slug=slug).first()
    if project is None:
        raise NoAccess(404, f"project {slug!r} not found")
    return project


def project_for_user(request, slug: str) -> Project:
    """For pages: the project in the URL, or 404."""
    try:
        return readable_project(request.user, slug)
    except NoAccess as exc:
        raise Http404("No such project") from exc


def project_for(request, slug: str | None) -> Project:
    """For the API: the key's own project, or one the session user belongs to."""
    auth = request.auth
    try:
        return readable_project(request.user, slug, key=auth if isinstance(auth, IngestKey) else None)
    except NoAccess as exc:
        raise HttpError(exc.status, str(exc)) from exc


class IngestKeyAuth(HttpBearer):
    def authenticate(self, request, token: str):
        return authenticate_key(token)


ingest_key = IngestKeyAuth()
key_or_session = [IngestKeyAuth(), SessionAuth(csrf=True)]
