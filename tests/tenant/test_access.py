import pytest

from costwatch.tenant.access import NoAccess, projects_for, readable_project
from costwatch.tenant.keys import authenticate_key, create_key
from costwatch.tenant.models import Project


@pytest.fixture
def other(db):
    return Project.objects.create(slug="other", name="Other")


def test_a_member_reads_their_project_and_not_another(user, project, other):
    assert readable_project(user, "acme") == project
    with pytest.raises(NoAccess) as exc:
        readable_project(user, "other")
    assert exc.value.status == 404
    assert projects_for(user) == [project]


def test_a_superuser_reads_every_project(django_user_model, project, other):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    assert readable_project(root, "other") == other
    assert {p.slug for p in projects_for(root)} == {"acme", "other"}


def test_a_key_reads_its_own_project_only(user, project, other):
    _, raw = create_key(project)
    key = authenticate_key(raw)
    assert readable_project(None, None, key=key) == project
    assert readable_project(None, "acme", key=key) == project
    with pytest.raises(NoAccess) as exc:
        readable_project(None, "other", key=key)
    assert exc.value.status == 403


def test_a_session_must_name_the_project(user, project):
    with pytest.raises(NoAccess) as exc:
        readable_project(user, None)
    assert exc.value.status == 400

