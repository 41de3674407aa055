"""A real streaming read replica for the page benches: a second local PostgreSQL cluster
(Debian's pg_createcluster, port 5433 by default) made from a pg_basebackup -R of the main
cluster, set up and torn down by `replica()`.

The main cluster is never restarted: replication connections from 127.0.0.1 are allowed by
one pg_hba.conf line (a reload, pg_reload_conf()), removed again at teardown. The standby
streams through a physical replication slot (without one, the main cluster, busy with the
other benches, recycled the WAL between the end of the base backup and the standby's
start); the slot is dropped at teardown, and a leftover of a killed run at the next start,
since a slot left behind keeps WAL on the main cluster.

    with replica(port=5433) as r:
        r.url("cw_bench_pages")   # postgres://postgres@127.0.0.1:5433/cw_bench_pages
        r.lag()                   # seconds until the replica has replayed the main's WAL now

Run alone (python bench/replica_cluster.py) it sets one up, prints the lag, tears it down.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import psycopg

MAIN = "postgresql://postgres@127.0.0.1:5432/postgres"
VERSION = "15"
NAME = "costwatch_bench_replica"
HBA_LINE = "host replication postgres 127.0.0.1/32 trust  # costwatch bench/replica_cluster.py"


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    """A cluster command (Debian's pg_*cluster tools run as root and switch to postgres)."""
    return subprocess.run(command, check=check, capture_output=True, text=True)


def as_postgres(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return run("runuser", "-u", "postgres", "--", *command, check=check)


def main_setting(name: str) -> str:
    with psycopg.connect(MAIN, autocommit=True) as conn:
        return conn.execute(f"SHOW {name}").fetchone()[0]


def _allow_replication() -> bool:
    """Add the pg_hba line if replication from 127.0.0.1 is not allowed yet; True if added."""
    hba = Path(main_setting("hba_file"))
    text = hba.read_text()
    if HBA_LINE in text:
        return False
    hba.write_text(text.rstrip("\n") + "\n" + HBA_LINE + "\n")
    with psycopg.connect(MAIN, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    return True


def _disallow_replication() -> None:
    hba = Path(main_setting("hba_file"))
    lines = [line for line in hba.read_text().splitlines() if line != HBA_LINE]
    hba.write_text("\n".join(lines) + "\n")
    with psycopg.connect(MAIN, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")


def _drop_slot() -> None:
    with psycopg.connect(MAIN, autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE slot_name = %s AND NOT active", [NAME])


class Replica:
    def __init__(self, port: int):
        self.port = port

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def lag(self, timeout: float = 60) -> float:
        """Seconds from now until the replica has replayed the main cluster's current WAL
        position (a write now is visible on the replica after about this long)."""
        with psycopg.connect(MAIN, autocommit=True) as main, \
                psycopg.connect(self.url("postgres"), autocommit=True) as standby:
            target = main.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < timeout:
                if standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
                    return time.perf_counter() - t0
                time.sleep(0.005)
        return float("inf")

    def replay_lag(self) -> str:
        """pg_stat_replication's replay_lag of this standby, as the main cluster reports it."""
        with psycopg.connect(MAIN, autocommit=True) as main:
            row = main.execute("SELECT replay_lag::text FROM pg_stat_replication "
                               "WHERE application_name = %s", [NAME]).fetchone()
        if not row:
            raise RuntimeError(f"{NAME} is not streaming from the main cluster")
        return row[0] or "none reported (idle, caught up)"


@contextlib.contextmanager
def replica(port: int = 5433):
    """A streaming replica of the main cluster on `port`, removed afterwards."""
    if main_setting("wal_level") not in ("replica", "logical"):
        raise RuntimeError("the main cluster's wal_level does not allow a streaming replica")
    run("pg_dropcluster", "--stop", VERSION, NAME, check=False)  # a leftover of a killed run
    _drop_slot()
    added = _allow_replication()
    try:
        t0 = time.monotonic()
        run("pg_createcluster", VERSION, NAME, "-p", str(port))
        data = Path(f"/var/lib/postgresql/{VERSION}/{NAME}")
        as_postgres("find", str(data), "-mindepth", "1", "-delete")
        as_postgres("pg_basebackup", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-D", str(data),
                    "-R", "-X", "stream", "-c", "fast", "-C", "-S", NAME,
                    "-d", f"host=127.0.0.1 port=5432 user=postgres application_name={NAME}")
        conf = Path(f"/etc/postgresql/{VERSION}/{NAME}")
        (conf / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        with (conf / "postgresql.conf").open("a") as f:
            f.write("hot_standby = on\nmax_connections = 100\n")
        run("pg_ctlcluster", VERSION, NAME, "start")
        r = Replica(port)
        for _ in range(300):
            try:
                with psycopg.connect(r.url("postgres"), autocommit=True) as conn:
                    assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                break
            except psycopg.OperationalError:
                time.sleep(0.2)
        print(f"replica cluster {VERSION}/{NAME} on port {port}: pg_basebackup -R and start in "
              f"{time.monotonic() - t0:.0f} s; lag now {r.lag() * 1000:.0f} ms", flush=True)
        yield r
    finally:
        run("pg_dropcluster", "--stop", VERSION, NAME, check=False)
        _drop_slot()
        if added:
            _disallow_replication()
        print(f"replica cluster {VERSION}/{NAME} dropped", flush=True)


if __name__ == "__main__":
    with replica() as r:
        print(f"lag {r.lag() * 1000:.1f} ms, replay_lag {r.replay_lag()}")
