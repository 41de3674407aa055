from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from costwatch import health
from costwatch.api import api
from costwatch.tenant.throttle import ThrottledLoginView

handler500 = "costwatch.health.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", api.urls),
    path("healthz", login_not_required(health.healthz), name="healthz"),
    path("", include("usage.web.urls")),
    path("", include("billing.web.urls")),
]
