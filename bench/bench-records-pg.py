#!/usr/bin/env python3
"""PostgreSQL records (#12), measured against a throwaway cluster started by
tests/records/pg_cluster.py (fsync off in the cluster: the figures are
rpiprov's and libpq's, not the disk's):

1. attempts per second into PostgreSQL through the sink (records-load:
   open, append, one commit per 256, as the recorder batches);
2. wall time of a simulated tray of 64 (realistic timing) with
   --report + --db postgresql://... against the same tray with --report
   only; median of 3 each, the ratio (target within 1.05x);
3. spool drain after an outage: a station records 10,000 attempts while
   the server is down (--allow-db-offline), the server comes back, and the
   next start delivers them: records per second from its start until the
   last is in the table.

Exit 77 when the PostgreSQL binaries are missing (and CI is unset)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "records"))
import pg_cluster  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
FW = os.environ.get("RPIPROV_TEST_FIRMWARE")
LOAD = sys.argv[1] if len(sys.argv) > 1 else None
OUTAGE = int(os.environ.get("RPIPROV_BENCH_OUTAGE", "10000"))


def payload_args():
    return ["--image", os.path.join(FW, "2711", "pieeprom-2022-04-26.bin"),
            "--recovery", os.path.join(FW, "2711", "recovery.bin")]


def count(pg, db, where="true"):
    return int(pg.sql(f"SELECT count(*) FROM rpiprov_attempts WHERE {where}", db))


def bench_load(pg, tmp):
    n = 5000
    pg.sql("CREATE DATABASE load")
    lines = "".join(f"L\tr\t{i}\ts{i}\t1-1.{i % 64}\tOK\t-\t{1714550400000 + i}\t{1714550404000 + i}\t\n"
                    for i in range(1, n + 1))
    # In batches of 256 per process: the recorder commits at least that often.
    t0 = time.monotonic()
    for i in range(0, n, 256):
        chunk = "".join(lines.splitlines(True)[i:i + 256])
        subprocess.run([LOAD, pg.conninfo("load")], input=chunk, text=True, env=pg.env, check=True,
                       capture_output=True)
    dt = time.monotonic() - t0
    assert count(pg, "load") == n
    print(f"attempts into PostgreSQL: {n / dt:.0f}/s ({n} in {dt:.2f} s, incl. one connection per 256)")


def tray(pg, tmp, name, with_pg):
    args = [RPIPROV, "station", "--simulate", "64", "--sim-timing", "realistic", "--plain", "--name", name,
            "--spool", os.path.join(tmp, f"spool-{name}.db"), "--report", os.path.join(tmp, f"{name}.jsonl")]
    if with_pg:
        args += ["--db", pg.conninfo("line")]
    t0 = time.monotonic()
    r = subprocess.run(args + payload_args(), env=pg.env, capture_output=True, text=True, timeout=300)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"tray {name}: {r.returncode} {r.stderr[-300:]}")
    return dt


def bench_tray(pg, tmp):
    pg.sql("CREATE DATABASE line")
    tray(pg, tmp, "warm", True)  # the schema migration is not a tray's cost
    without, with_pg = [], []
    for i in range(3):
        without.append(tray(pg, tmp, f"plain{i}", False))
        with_pg.append(tray(pg, tmp, f"pg{i}", True))
    a, b = statistics.median(without), statistics.median(with_pg)
    print(f"tray of 64 (realistic timing): {a:.3f} s without PostgreSQL, {b:.3f} s with "
          f"({b / a:.3f}x; target 1.05x) [runs: {', '.join(f'{x:.2f}' for x in without)} | "
          f"{', '.join(f'{x:.2f}' for x in with_pg)}]")


def bench_drain(pg, tmp):
    spool = os.path.join(tmp, "spool-outage.db")
    base = [RPIPROV, "station", "--sim-timing", "zero", "--plain", "--name", "outage", "--spool", spool,
            "--db", pg.conninfo("line")] + payload_args()
    pg.stop("fast")
    t0 = time.monotonic()
    # --simulate takes up to 4096 boards: the outage spans several runs.
    for n in [2500] * (OUTAGE // 2500) + ([OUTAGE % 2500] if OUTAGE % 2500 else []):
        r = subprocess.run(base[:2] + ["--simulate", str(n), "--allow-db-offline"] + base[2:], env=pg.env,
                           capture_output=True, text=True, timeout=1200)
        if "kept in the spool" not in r.stderr:
            raise RuntimeError(f"outage run: {r.returncode} {r.stderr[-300:]}")
    spooled = time.monotonic() - t0
    pg.start()
    t0 = time.monotonic()
    p = subprocess.Popen(base[:2] + ["--simulate", "1"] + base[2:], env=pg.env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    while count(pg, "line", "station = 'outage'") < OUTAGE + 1 and time.monotonic() - t0 < 600:
        time.sleep(0.05)
    dt = time.monotonic() - t0
    p.wait(timeout=120)
    n = count(pg, "line", "station = 'outage'")
    print(f"spool drain after an outage: {OUTAGE} records spooled in {spooled:.1f} s; "
          f"{n} delivered in {dt:.2f} s after the restart ({OUTAGE / dt:.0f} records/s)")


def main():
    if not RPIPROV or not FW or not os.path.isdir(FW) or not LOAD:
        print("skipped: RPIPROV_BIN, firmware or records-load missing")
        return 77
    try:
        with pg_cluster.PgCluster(port=54333) as pg:
            tmp = tempfile.mkdtemp(prefix="rpiprov-bench-pg-")
            bench_load(pg, tmp)
            bench_tray(pg, tmp)
            bench_drain(pg, tmp)
    except pg_cluster.Skip as e:
        print(f"skipped: {e}")
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
