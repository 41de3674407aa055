"""Benchmark: import a zip of N Claude Code session logs (a zipped ~/.claude/projects) and
print the seconds for 1,000, 2,000, 4,000 and 12,000 members: the time must grow linearly
with the member count (issue 12: each member used to reopen the archive, 2,000 members took
34.6 s and 12,000 did not finish in 8 minutes).

    .venv/bin/python bench/import_zip.py [--members 1000 2000 4000 12000]

It runs on a throwaway SQLite database (DATABASE_URL is ignored) through run_import, the
path of `manage.py import_usage` and of an upload.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def line(member: int, n: int) -> str:
    return json.dumps({
        "type": "assistant", "sessionId": f"s{member}", "cwd": f"/src/p{member % 40}",
        "timestamp": "2026-11-02T10:00:00Z", "requestId": f"req-{member}-{n}",
        "message": {"id": f"msg-{member}-{n}", "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 10 + n, "output_tokens": 5, "cache_read_input_tokens": 100}},
    }) + "\n"


def make_zip(path: Path, members: int) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for m in range(members):
            zf.writestr(f"projects/p{m % 40}/session-{m}.jsonl", line(m, 0) + line(m, 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, nargs="+", default=[1000, 2000, 4000, 12000])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-zip-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "costwatch.settings")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from billing.pricing.catalog import ensure_catalog
    from costwatch.tenant.models import Project
    from usage.imports import run_import

    ensure_catalog()
    print(f"{'members':>8} {'zip KB':>8} {'seconds':>8} {'ms/member':>10}")
    for members in args.members:
        path = tmp / f"logs-{members}.zip"
        make_zip(path, members)
        project = Project.objects.create(slug=f"zip-{members}", name=f"zip {members}")
        t = time.perf_counter()
        summary = run_import(project=project, paths=[path])
        seconds = time.perf_counter() - t
        assert summary.records_added == 2 * members, summary.records_added
        print(f"{members:>8,} {path.stat().st_size / 1024:>8.0f} {seconds:>8.2f} {seconds / members * 1000:>10.2f}")


if __name__ == "__main__":
    main()
