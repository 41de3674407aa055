"""API auth: a project ingest key (Bearer) or a logged-in session."""

from __future__ import annotations

from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from usage.models import IngestKey, Project
from usage.projects import authenticate_key, user_can_see


class IngestKeyAuth(HttpBearer):
    def authenticate(self, request, token: str):
        return authenticate_key(token)


ingest_key = IngestKeyAuth()
key_or_session = [IngestKeyAuth(), SessionAuth(csrf=True)]


def project_for(request, slug: str | None) -> Project:
    """The project a request may read: the key's own, or one the user belongs to."""
    auth = request.auth
    if isinstance(auth, IngestKey):
        if slug and slug != auth.project.slug:
            raise HttpError(403, "this key belongs to another project")
        return auth.project
    if not slug:
        raise HttpError(400, "project: required when authenticating with a session")
    project = Project.objects.filter(slug=slug).first()
    if project is None or not user_can_see(request.user, project):
        raise HttpError(404, f"project {slug!r} not found")
    return project
