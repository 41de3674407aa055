import pytest
from django.core.exceptions import ValidationError

from costwatch.tenant.models import Project
from costwatch.tenant.projects import create_project


def test_a_project_time_zone_is_validated_not_a_frozen_choice_list(db):
    with pytest.raises(ValidationError, match="not a known time zone"):
        create_project(slug="tz", timezone_name="Mars/Olympus")
    project, _ = create_project(slug="tz", timezone_name="America/Argentina/Buenos_Aires")
    project.full_clean()
    assert Project._meta.get_field("timezone").choices is None
