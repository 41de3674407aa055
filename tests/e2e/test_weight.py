"""Page weight: plotly.js is fetched only by pages that draw a chart."""

import pytest

from tests.e2e.test_dashboard import chart_drawn, data  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def scripts_loaded(page, path: str) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.resource_type == "script" else None)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    return seen


def test_plotly_only_on_pages_with_charts(logged_in_page, data):  # noqa: F811
    page = logged_in_page
    for path in ["keys/", "imports/", "budgets/", "records/"]:
        urls = scripts_loaded(page, f"/p/{data.slug}/{path}")
        assert not [u for u in urls if "plotly" in u], path
    page.goto(f"/p/{data.slug}/")
    chart_drawn(page, "[data-testid=daily-chart]")
    assert page.evaluate("typeof window.Plotly") == "object"
    # a swap that brings charts in draws them with the library already there
    page.select_option("select[name=range]", "7d")
    page.wait_for_url("**range=7d**")
    chart_drawn(page, "[data-testid=daily-chart]")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The embedded default as `make demo` runs it: file SQLite, DEBUG, collectstatic, the
    demo data, `runserver` (WhiteNoise serving the static files)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    home = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(DATABASE_URL=f"sqlite:///{home}/demo.sqlite3", STATIC_ROOT=str(home / "static"),
               MEDIA_ROOT=str(home / "media"))

    def manage(*args):
        subprocess.run([sys.executable, "manage.py", *args], cwd=root, env=env, check=True,
                       capture_output=True, timeout=300)

    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput", "-v", "0")
    manage("seed_demo", "--days", "3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                              cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


STATIC_ENTRIES = """() => performance.getEntriesByType("resource")
  .filter(e => new URL(e.name).pathname.startsWith("/static/"))
  .map(e => ({url: new URL(e.name).pathname, transfer: e.transferSize, encoded: e.encodedBodySize,
              decoded: e.decodedBodySize}))"""


def visit(page, path: str, ready) -> list[dict]:
    page.goto(path)
    ready()
    page.wait_for_load_state("networkidle")
    return page.evaluate(STATIC_ENTRIES)


def test_static_files_are_compressed_and_not_downloaded_again(browser, demo_server):
    """On `make demo`: plotly and the API docs' Swagger UI come compressed under hashed
    names the first time, and from the browser's cache (0 bytes transferred) the second."""
    context = browser.new_context(base_url=demo_server)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo-password")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    def chart():
        chart_drawn(page, "[data-testid=daily-chart]")

    def docs():
        page.locator("#swagger-ui .info").wait_for()

    cdp = context.new_cdp_session(page)
    for path, ready, big in [("/p/demo/", chart, "plotly"), ("/api/v1/docs", docs, "swagger-ui-bundle")]:
        cdp.send("Network.clearBrowserCache")  # a first visit
        first = visit(page, path, ready)
        heavy = [e for e in first if big in e["url"]]
        assert heavy, first
        # a content hash in the name, compressed on the wire (gzip: about a third)
        assert all(e["url"].count(".") >= 2 for e in first), first
        assert heavy[0]["encoded"] < heavy[0]["decoded"] / 2, heavy
        page.goto("/login/" if path == "/api/v1/docs" else "/p/demo/keys/")
        second = visit(page, path, ready)
        assert second and all(e["transfer"] == 0 for e in second), second
        print(f"{path}: static {sum(e['transfer'] for e in first):,} bytes transferred on the first visit "
              f"({sum(e['decoded'] for e in first):,} unpacked), "
              f"{sum(e['transfer'] for e in second):,} on the second")
    context.close()
