import pytest

from tests.usage.dashboard_data import TODAY, seed


@pytest.fixture
def today(monkeypatch):
    """Pages see TODAY as the current UTC day (use with pytest.mark.usefixtures)."""
    import usage.filters
    import usage.views

    monkeypatch.setattr(usage.filters, "utc_today", lambda: TODAY)
    monkeypatch.setattr(usage.views, "utc_today", lambda: TODAY)


@pytest.fixture
def data(project, django_capture_on_commit_callbacks):
    """The hand-computed dashboard data set of tests/usage/dashboard_data.py."""
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    return project
