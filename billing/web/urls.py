from django.urls import path

from billing.web import views

urlpatterns = [
    path("p/<slug:slug>/budgets/", views.budget_list, name="budgets"),
    path("p/<slug:slug>/prices/", views.prices, name="prices"),
    path("p/<slug:slug>/budgets/new/", views.budget_new, name="budget_new"),
    path("p/<slug:slug>/budgets/digest/", views.digest_settings, name="digest_settings"),
    path("p/<slug:slug>/budgets/<int:pk>/", views.budget_card, name="budget"),
    path("p/<slug:slug>/budgets/<int:pk>/delete/", views.budget_delete, name="budget_delete"),
    path("p/<slug:slug>/budgets/<int:pk>/threshold/", views.budget_threshold, name="budget_threshold"),
    path("p/<slug:slug>/budgets/<int:pk>/test/", views.budget_test, name="budget_test"),
]
