import pytest

from costwatch import clock
from tests.usage.dashboard_data import TODAY, seed


@pytest.fixture
def today(monkeypatch):
    """Pages see TODAY as the current UTC day (use with pytest.mark.usefixtures)."""
    real = clock.utc_today
    monkeypatch.setattr(clock, "utc_today", lambda now=None: TODAY if now is None else real(now))


@pytest.fixture
def data(project, django_capture_on_commit_callbacks):
    """The hand-computed dashboard data set of tests/usage/dashboard_data.py."""
    with django_capture_on_commit_callbacks(execute=True):
        seed(project)
    return project
