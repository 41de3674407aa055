from django.urls import path

from usage.web import (
    insights,
    views,
    views_connections,
    views_imports,
    views_report,
    views_sessions,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/", views.overview, name="overview"),
    path("p/<slug:slug>/keys/", views.keys, name="keys"),
    path("p/<slug:slug>/connections/", views_connections.connections, name="connections"),
    path("p/<slug:slug>/imports/", views_imports.imports, name="imports"),
    path("p/<slug:slug>/imports/<int:pk>/", views_imports.import_status, name="import_status"),
    path("p/<slug:slug>/imports/<int:pk>/delete/", views_imports.import_delete, name="import_delete"),
    path("p/<slug:slug>/breakdown/", views.breakdown, name="breakdown"),
    path("p/<slug:slug>/tokens/", views.tokens, name="tokens"),
    path("p/<slug:slug>/records/", views.records, name="records"),
    path("p/<slug:slug>/reconcile/", views.reconcile_page, name="reconcile"),
    path("p/<slug:slug>/report/", views_report.report, name="report"),
    path("p/<slug:slug>/sessions/", views_sessions.sessions_page, name="sessions"),
    path("p/<slug:slug>/export/<slug:table>.csv", views.export, name="export"),
    path("p/<slug:slug>/insights/", insights.explain_page, name="insights"),
    path("p/<slug:slug>/insights/whatif/", insights.whatif_page, name="insights_whatif"),
    path("p/<slug:slug>/insights/anomalies/", insights.anomalies_page, name="insights_anomalies"),
    path("p/<slug:slug>/insights/subscriptions/", insights.plans_page, name="insights_plans"),
    path("p/<slug:slug>/insights/recommendations/", insights.recommendations_page, name="insights_recommendations"),
]
