"""Re-sent ids count once, whatever day they carry. The natural key (project, source,
external_id, day) is a unique index (on PostgreSQL of a hash of source and id,
usage.models.NATURAL_KEY_HASH), but on PostgreSQL's monthly partitions a unique key
must hold `day`, so an id re-sent with a timestamp on another day is only found by the
writers' lookup of stored ids. That lookup and the insert after it are made safe against a
concurrent request with the same ids by transaction-scoped advisory locks, taken before
the lookup and held until commit:

- a batch of at most IDS_LOCKED ids: one lock per (project, source, id), in ascending
  order (two batches wait for each other, never deadlock), plus the (project, source)
  lock shared. An id's lock key is hashed by the server (hashtextextended, seeded with
  the (project, source) key): hashing 1,000 ids in Python was 7 µs an event;
- a bigger batch and an import (its transaction spans all its chunks): the
  (project, source) lock exclusive, which waits for those batches and keeps the lock
  table small (each lock is a slot of PostgreSQL's shared lock table,
  max_locks_per_transaction × max_connections, 6,400 by default).

SQLite needs none: its transactions begin IMMEDIATE (settings), one writer at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

import orjson
from django.db import connection

IDS_LOCKED = 2000


def _key(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(blake2b(text, digest_size=8, person=b"costwatch-ids").digest(), "big", signed=True)


def lock_ids(*, project_id: int, source: str, ids: Iterable[str]) -> None:
    """Lock these ids of (project, source) until the transaction ends."""
    if connection.vendor != "postgresql":
        return
    ids = set(ids)
    if len(ids) > IDS_LOCKED:
        lock_source(project_id=project_id, source=source)
        return
    rows, param = id_rows(list(ids))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_key("source", project_id, source)])
        cursor.execute("SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT hashtextextended(i, %s) h "
                       f"FROM {rows} i ORDER BY h) s", [_key("id", project_id, source), param])


def id_rows(ids: list[str]) -> tuple[str, object]:
    """A set-returning SQL expression of these ids (`FROM … i`, one text `i` a row) with
    its parameter: one JSON array, adapted by orjson, where a text[] took psycopg ~0.9 µs
    an id in Python (bench/ingest_view.py). A text[] still where the JSON would not do: a
    NUL, which PostgreSQL's json can't unescape (psycopg refuses it, as before; an id with
    the text \\u0000 goes this way too), and a lone surrogate, which orjson refuses."""
    try:
        text = orjson.dumps(ids).decode()
    except TypeError:
        return "unnest(%s::text[])", ids
    if "\\u0000" in text:
        return "unnest(%s::text[])", ids
    return "json_array_elements_text(%s::json)", text


def lock_source(*, project_id: int, source: str) -> None:
    """Lock every id of (project, source) until the transaction ends (imports)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_key("source", project_id, source)])
