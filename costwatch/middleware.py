from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse

INGEST_PATH = "/api/v1/events"


class LoginRequiredExceptAPIMiddleware(LoginRequiredMiddleware):
    """Every page needs a login; /api/ does its own auth (ingest key or session)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith("/api/") and not request.path.startswith("/api/v1/docs"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class IngestBodyLimitMiddleware:
    """Raise Django's request body cap for the ingest endpoint alone: the body is read
    here against INGEST_MAX_BODY_BYTES, so Django's global limit never sees it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path.rstrip("/") == INGEST_PATH:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
            if length > settings.INGEST_MAX_BODY_BYTES:
                return JsonResponse(
                    {"detail": f"body too large: {length} bytes, limit {settings.INGEST_MAX_BODY_BYTES}"},
                    status=413,
                )
            if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and not length:
                # no Content-Length: Django would read an empty body; the server de-chunks
                request._body = request.environ["wsgi.input"].read(settings.INGEST_MAX_BODY_BYTES + 1)
            else:
                request._body = request.read(settings.INGEST_MAX_BODY_BYTES + 1)
            if len(request._body) > settings.INGEST_MAX_BODY_BYTES:
                return JsonResponse({"detail": "body too large"}, status=413)
        return self.get_response(request)
