#!/usr/bin/env python3
"""Records stay true (#19): a simulated run never writes into the records
a configuration file names, every record of a simulated board says so in
a field of its own (JSON Lines, SQLite), `report` leaves those out unless
asked and then shows them apart, an older database is migrated (and read
before that), and the "synthetic" label belongs to each board by what it
was served."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_all, skip_case  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
FW = os.environ.get("RPIPROV_TEST_FIRMWARE", "")


def run(args, env=None, tmp=None):
    e = dict(os.environ)
    # Hermetic: no firmware anywhere, so the simulation serves the synthetic set.
    e.update({"RPIPROV_FIRMWARE_DIR": os.path.join(tmp, "no-firmware"),
              "XDG_CACHE_HOME": os.path.join(tmp, "cache")})
    e.update(env or {})
    return subprocess.run([RPIPROV] + args, capture_output=True, text=True, env=e, timeout=120)


def test_config_sinks_untouched(tmp):
    prod = os.path.join(tmp, "production")
    conf = os.path.join(tmp, "station.conf")
    with open(conf, "w") as f:
        f.write(f"report = {prod}/report.jsonl\ndb = {prod}/boards.db\n"
                f"metadata_dir = {prod}/metadata\nspool = {prod}/spool.db\nprofile = netboot\n")
    r = run(["station", "-f", conf, "--simulate", "2", "--plain"], tmp=tmp)
    check(r.returncode == 0, f"station -f CONF --simulate 2: {r.returncode} {r.stderr[-400:]!r}")
    check(not os.path.exists(prod), f"the configured records are untouched: {os.listdir(prod) if os.path.exists(prod) else ''}")
    check("not writing the records" in r.stderr and conf in r.stderr, f"and it says so: {r.stderr!r}")
    # Records named on its own command line are written, and say simulated.
    mine = os.path.join(tmp, "mine.jsonl")
    r = run(["station", "-f", conf, "--simulate", "2", "--plain", "--report", mine], tmp=tmp)
    check(r.returncode == 0 and not os.path.exists(prod), f"--report on the command line: {r.stderr[-300:]!r}")
    lines = [json.loads(x) for x in open(mine)] if os.path.exists(mine) else []
    check(len(lines) == 2 and all(x.get("simulated") is True for x in lines),
          f"every JSON line has simulated: true: {[x.get('simulated') for x in lines]}")


def test_report_leaves_out(tmp):
    db = os.path.join(tmp, "b.db")
    r = run(["flash", "--simulate", "3", "--db", db], tmp=tmp)
    check(r.returncode == 0, f"flash --simulate 3 --db: {r.returncode} {r.stderr[-300:]!r}")
    c = sqlite3.connect(db)
    check(c.execute("SELECT count(*), sum(simulated) FROM attempts").fetchone() == (3, 3),
          "the simulated column says so for each attempt")
    c.close()
    r = run(["report", "--db", db, "--json"], tmp=tmp)
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    check(o.get("attempts") == 0 and o.get("simulated_left_out") == 3,
          f"report leaves them out and says how many: {r.returncode} {r.stdout[:300]!r}")
    r = run(["report", "--db", db], tmp=tmp)
    check("3 attempts of simulated boards left out" in r.stdout, f"text report says so: {r.stdout!r}")
    r = run(["report", "--db", db, "--json", "--include-simulated"], tmp=tmp)
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    check(o.get("attempts") == 0 and o.get("simulated", {}).get("attempts") == 3,
          f"--include-simulated shows them apart: {r.stdout[:300]!r}")
    r = run(["report", "--db", db, "--include-simulated"], tmp=tmp)
    check(r.returncode == 0 and "Simulated boards" in r.stdout and "Attempts: 3" in r.stdout,
          f"text --include-simulated: {r.stdout!r}")


def test_migration(tmp):
    """A database from before the column: read as it is, migrated by the
    next writer; runs with a synthetic- id count as simulated."""
    db = os.path.join(tmp, "old.db")
    r = run(["flash", "--simulate", "1", "--db", db], tmp=tmp)
    check(r.returncode == 0, f"flash: {r.stderr[-300:]!r}")
    c = sqlite3.connect(db)
    c.execute("ALTER TABLE attempts DROP COLUMN simulated")
    c.execute("UPDATE attempts SET run_id = 'synthetic-0123456789abcdef'")
    c.execute("INSERT INTO attempts (run_id, attempt_id, station, serial, port, soc, pid,"
              " start_ms, end_ms, duration_ms, stage1_ms, reenum_ms, serve_ms, verify_ms,"
              " result, bytes_served, files_served, metadata, metadata_dropped)"
              " VALUES ('real', 1, 'old', '10000000abcdef01', '1-1.9', '2711', 10001,"
              " 1, 2, 1, 0, 0, 0, 0, 'OK', 0, 0, '{}', 0)")
    c.execute("PRAGMA user_version = 1")
    c.commit()
    c.close()
    r = run(["report", "--db", db, "--json"], tmp=tmp)
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    check(o.get("attempts") == 1 and o.get("simulated_left_out") == 1,
          f"report reads a version 1 database: {r.returncode} {r.stderr!r} {r.stdout[:200]!r}")
    r = run(["flash", "--simulate", "1", "--db", db], tmp=tmp)
    check(r.returncode == 0, f"a writer migrates it: {r.stderr[-300:]!r}")
    c = sqlite3.connect(db)
    check(c.execute("PRAGMA user_version").fetchone() == (2,), "schema version 2")
    check(c.execute("SELECT run_id LIKE 'synthetic-%', simulated FROM attempts WHERE station <> 'old'"
                    " ORDER BY id").fetchall() == [(1, 1), (1, 1)], "old synthetic runs marked, the new one too")
    check(c.execute("SELECT simulated FROM attempts WHERE station = 'old'").fetchall() == [(0,)],
          "the real attempt stays real")
    c.close()


def test_synthetic_per_board(tmp):
    """Real 2711 firmware, none for 2712: only the CM5 is labelled synthetic."""
    fw = os.path.join(tmp, "fw")
    os.makedirs(os.path.join(fw, "2711"))
    for name in ("pieeprom-2026-08-04.bin", "recovery.bin"):
        os.symlink(os.path.join(FW, "2711", name), os.path.join(fw, "2711", name))
    r = run(["flash", "--simulate", "2", "--sim-soc", "2711,2712"], env={"RPIPROV_FIRMWARE_DIR": fw}, tmp=tmp)
    lines = {l.split()[1]: l for l in r.stdout.splitlines() if l.startswith("5eed")}
    check(r.returncode == 0 and len(lines) == 2, f"two boards: {r.returncode} {r.stdout!r} {r.stderr[-300:]!r}")
    check("synthetic" not in lines.get("1-1.1", "synthetic"), f"the CM4 got the real image: {lines}")
    check("synthetic image" in lines.get("1-1.2", ""), f"the CM5 got the synthetic one: {lines}")


def main():
    if not RPIPROV:
        return skip_all("RPIPROV_BIN not set")
    for name, fn in [("station -f CONF --simulate: the configured records are untouched", test_config_sinks_untouched),
                     ("report leaves simulated boards out, --include-simulated shows them apart",
                      test_report_leaves_out),
                     ("a version 1 database is read, then migrated", test_migration)]:
        with tempfile.TemporaryDirectory() as tmp:
            case(name, fn, tmp)
    name = "the synthetic label is per board"
    if FW and os.path.isdir(os.path.join(FW, "2711")):
        with tempfile.TemporaryDirectory() as tmp:
            case(name, test_synthetic_per_board, tmp)
    else:
        skip_case(name, "needs real 2711 firmware (RPIPROV_TEST_FIRMWARE)")
    return done()


if __name__ == "__main__":
    sys.exit(main())
