"""A local fake of the Anthropic and OpenAI admin APIs (a real HTTP server on 127.0.0.1),
serving the documented shapes from the samples: daily buckets filtered by the requested
range, one bucket per page (so paging cursors are followed), the empty bucket, the key
and workspace / project lists; scripted failures (429 with retry-after, 500, 401)."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "samples"
ANTHROPIC_KEY = "sk-ant-admin01-FAKE-0123456789abcdef"
OPENAI_KEY = "sk-admin-FAKE-0123456789abcdef"

ANTHROPIC_WORKSPACES = [{"id": "wrkspc_01MwJ8RkT4vXq2ZpN6cB9sLd", "name": "Claude Code", "type": "workspace"},
                        {"id": "wrkspc_01Pz3LqV8nRt6YkW2mXc5bJh", "name": "Research, EU", "type": "workspace"}]
ANTHROPIC_KEYS = [{"id": "apikey_01Hq7ZtVn3KcE2mWa5pT9rYb", "name": "prod-backend", "type": "api_key"},
                  {"id": "apikey_01NbX4sQe8LrW6uPz2HkJ7dF", "name": "eval-batch", "type": "api_key"},
                  {"id": "apikey_01Tc9GfR2wYm5KpLx8VbQ3nE", "name": "claude_code_key_alice.smith_qmzt", "type": "api_key"},
                  {"id": "apikey_01Ys5DkW7pHn3QmVr9TfC2xA", "name": "research-notebooks", "type": "api_key"}]
OPENAI_PROJECTS = [{"id": "proj_9Tq2LmV7xK3nW8rB5cY4hZ1d", "name": "Default project", "object": "organization.project"},
                   {"id": "proj_4Rk8NpD2sQ6vX1mJ9tL3wF7g", "name": "Agents", "object": "organization.project"}]
OPENAI_PROJECT_KEYS = {"proj_9Tq2LmV7xK3nW8rB5cY4hZ1d": [{"id": "key_Xc8vN2pQ7rT4mZ1w", "name": "backend"}],
                       "proj_4Rk8NpD2sQ6vX1mJ9tL3wF7g": []}


def _buckets(name: str) -> list[dict]:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))["data"]


def _epoch(bucket: dict) -> int:
    if "start_time" in bucket:
        return int(bucket["start_time"])
    return int(datetime.fromisoformat(bucket["starting_at"].replace("Z", "+00:00")).timestamp())


class Fake:
    def __init__(self):
        self.reports = {
            "/v1/organizations/usage_report/messages": _buckets("anthropic_usage_report.json"),
            "/v1/organizations/cost_report": _buckets("anthropic_cost_report.json"),
            "/v1/organization/usage/completions": _buckets("openai_usage_completions.json"),
            "/v1/organization/costs": _buckets("openai_costs.json"),
        }
        self.lists = {
            "/v1/organizations/workspaces": ANTHROPIC_WORKSPACES,
            "/v1/organizations/api_keys": ANTHROPIC_KEYS,
            "/v1/organization/projects": OPENAI_PROJECTS,
            **{f"/v1/organization/projects/{p}/api_keys": keys for p, keys in OPENAI_PROJECT_KEYS.items()},
        }
        self.keys = {"anthropic": ANTHROPIC_KEY, "openai": OPENAI_KEY}
        # path -> [(status, headers)] answered (and consumed) before the real answer;
        # a `day` entry fails only requests whose range starts on that day.
        self.failures: dict[str, list[tuple[int, dict]]] = {}
        self.fail_day: dict[str, tuple[str, int]] = {}  # path -> (YYYY-MM-DD, status), every time
        self.hang_day: dict[str, str] = {}  # path -> YYYY-MM-DD: never answer that request
        self.hanging = threading.Event()  # set once a request hangs
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def hangs(self, path: str, query: dict) -> bool:
        if path not in self.hang_day or path not in self.reports:
            return False
        start, _ = self._range(query)
        return datetime.fromtimestamp(start, UTC).date().isoformat() == self.hang_day[path]

    def answer(self, path: str, query: dict, headers) -> tuple[int, dict, dict | None]:
        with self.lock:
            self.requests.append((path, query))
            provider = "anthropic" if path.startswith("/v1/organizations") else "openai"
            given = headers.get("x-api-key") if provider == "anthropic" else (
                headers.get("Authorization", "").removeprefix("Bearer "))
            if given != self.keys[provider]:
                return 401, {}, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
            if self.failures.get(path):
                status, extra = self.failures[path].pop(0)
                return status, extra, {"error": {"message": "scripted failure"}}
            if path in self.reports:
                start, end = self._range(query)
                if path in self.fail_day and datetime.fromtimestamp(start, UTC).date().isoformat() == self.fail_day[path][0]:
                    return self.fail_day[path][1], {}, {"error": {"message": "scripted failure"}}
                return 200, {}, self._report(path, query, start, end)
            if path in self.lists:
                return 200, {}, self._list(path, query)
            return 404, {}, {"error": {"message": f"no route {path}"}}

    @staticmethod
    def _range(query: dict) -> tuple[int, int]:
        if "starting_at" in query:
            parse = lambda v: int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())  # noqa: E731
            return parse(query["starting_at"][0]), parse(query["ending_at"][0])
        return int(query["start_time"][0]), int(query["end_time"][0])

    def _report(self, path: str, query: dict, start: int, end: int) -> dict:
        buckets = [b for b in self.reports[path] if start <= _epoch(b) < end]
        index = int(base64.b64decode(query["page"][0])) if "page" in query else 0
        more = index + 1 < len(buckets)
        page = {"data": buckets[index:index + 1], "has_more": more,
                "next_page": base64.b64encode(str(index + 1).encode()).decode() if more else None}
        if path.startswith("/v1/organization/"):
            page["object"] = "page"
        return page

    def _list(self, path: str, query: dict) -> dict:
        items = self.lists[path]
        after = (query.get("after_id") or query.get("after") or [None])[0]
        index = next((i + 1 for i, item in enumerate(items) if item["id"] == after), 0)
        chunk = items[index:index + 1]  # one per page: the cursor is followed
        return {"data": chunk, "has_more": index + 1 < len(items),
                "first_id": chunk[0]["id"] if chunk else None, "last_id": chunk[-1]["id"] if chunk else None}


def serve(fake: Fake) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            url = urlparse(self.path)
            if fake.hangs(url.path, parse_qs(url.query)):
                fake.hanging.set()
                time.sleep(60)  # the client is killed meanwhile
                return
            status, extra, body = fake.answer(url.path, parse_qs(url.query), self.headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
