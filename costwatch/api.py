from django.contrib.auth.decorators import login_required
from ninja import NinjaAPI

from billing.web.api import router as billing_router
from usage.web.api import router as usage_router
from usage.web.insights_api import router as insights_router

api = NinjaAPI(
    title="costwatch API",
    version="1",
    description=(
        "Send LLM usage, query spend, prices and budgets. Authenticate with "
        "`Authorization: Bearer <project ingest key>` or a logged-in session."
    ),
    urls_namespace="api",
    docs_decorator=login_required,
)
api.add_router("/", usage_router)
api.add_router("/", billing_router)
api.add_router("/", insights_router)
