"""A read replica for pages (DATABASE_REPLICA_URL, README "Scale").

During a GET or HEAD request, reads of the usage, pricing and billing tables (records,
rollups, prices, budgets) go to the `replica` alias. Everything else uses the primary:
every write, sessions, users and project access (a revoked member must not keep reading),
and all reads outside such requests — ingest, imports, rollups, budget checks, commands.
"""

from contextvars import ContextVar

REPLICA = "replica"
PRIMARY_APPS = {"auth", "sessions", "contenttypes", "admin", "tenant"}

_page_request: ContextVar[bool] = ContextVar("page_request", default=False)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _page_request.get() and model._meta.app_label not in PRIMARY_APPS:
            return REPLICA
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the primary's rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA


def replica_reads(get_response):
    """Middleware: marks GET and HEAD requests as page reads for ReplicaRouter."""

    def middleware(request):
        token = _page_request.set(request.method in ("GET", "HEAD"))
        try:
            return get_response(request)
        finally:
            _page_request.reset(token)

    return middleware
