from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from costwatch.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", api.urls),
    path("healthz", login_not_required(lambda request: __import__("django.http").http.HttpResponse("ok")), name="healthz"),
    path("", include("usage.web.urls")),
    path("", include("billing.web.urls")),
]
