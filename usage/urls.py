from django.urls import path

from usage import views

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/", views.overview, name="overview"),
    path("p/<slug:slug>/keys/", views.keys, name="keys"),
]
