"""The Prices page: rates in force, origin, unpriced models of this project, the audit."""

from datetime import UTC, datetime

import pytest

from billing.pricing.models import PriceChange
from usage.ingest import record_usage
from usage.records import Record

pytestmark = pytest.mark.django_db


def test_members_see_rates_unpriced_models_and_audit(logged_in, project):
    record_usage(project=project, source="api", records=[
        Record(external_id=f"u{i}", timestamp=datetime(2026, 11, 2, tzinfo=UTC), model="acme-9b",
               input_tokens=1, output_tokens=1) for i in range(3)])
    PriceChange.objects.create(source="litellm", source_version="file x.json", model="gpt-9-test",
                               effective_from="2026-12-01", field="model")
    page = logged_in.get(f"/p/{project.slug}/prices/")
    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index('data-model="claude-sonnet-5-5"'):]
    row = row[:row.index("</tr>")]
    # Sonnet 5.5: $2 in, $10 out, $0.1 cache read, curated, with its official page
    assert "<td class=\"num\">2</td>" in row and "<td class=\"num\">10</td>" in row and "0.1" in row
    assert "curated" in row and "platform.claude.com" in row
    assert "regional ×1.1." in row and "web search $10/1,000." in row
    # OpenAI's 30m / 12h writes in the cache-write columns (gpt-5.6-sol since 2026-08-21: 5 / 10)
    sol = html[html.index('data-model="gpt-5.6-sol"'):]
    sol = sol[:sol.index("</tr>")]
    assert '<td class="num">0.4</td><td class="num">5</td><td class="num">10</td>' in sol
    assert "<code>acme-9b</code></td><td class=\"num\">3</td>" in html
    assert "ask an admin to add a price" in html  # a member, not staff: no admin links
    assert "/admin/" not in html
    assert "gpt-9-test" in html[html.index('data-testid="price-audit"'):]


def test_staff_get_admin_links(logged_in, project, user):
    user.is_staff = True
    user.save()
    record_usage(project=project, source="api", records=[
        Record(external_id="u1", timestamp=datetime(2026, 11, 2, tzinfo=UTC), model="acme-9b",
               input_tokens=1, output_tokens=1)])
    html = logged_in.get(f"/p/{project.slug}/prices/").content.decode()
    assert "/admin/pricing/modelprice/add/?model=acme-9b" in html


def test_login_required(client, project):
    assert client.get(f"/p/{project.slug}/prices/").status_code == 302
