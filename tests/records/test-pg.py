#!/usr/bin/env python3
"""PostgreSQL records against a real server (#12), started by the test
(pg_cluster.py):

- 4 stations x 64 simulated boards at once (so also migrations raced by
  four stations): exactly 256 attempts, none lost or duplicated;
- the server stopped mid-run and started again: every record arrives once;
- a station run with the server down (--allow-db-offline), records left
  in its spool, then started again: they arrive once;
- a wrong password, or a missing database: a clear error at start (77,
  66), no board is touched, and the password is in no message;
- a password in the connection string is refused (it would sit in argv);
- boards, stations, runs and metadata agree with the attempts after all
  of the above, and a batch loaded twice (a replay) changes nothing."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import case, check, done, skip_all  # noqa: E402
import pg_cluster  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
FW = os.environ.get("RPIPROV_TEST_FIRMWARE")
LOAD = sys.argv[1] if len(sys.argv) > 1 else None


def payload_args():
    return ["--image", os.path.join(FW, "2711", "pieeprom-2022-04-26.bin"),
            "--recovery", os.path.join(FW, "2711", "recovery.bin")]


def station(pg, tmp, name, n, db="line", extra=(), env=None):
    return [RPIPROV, "station", "--simulate", str(n), "--plain", "--name", name,
            "--db", pg.conninfo(db), "--spool", os.path.join(tmp, f"spool-{name}.db")] + \
        list(extra) + payload_args()


def count(pg, where="true"):
    return int(pg.sql(f"SELECT count(*) FROM rpiprov_attempts WHERE {where}", "line"))


def test_four_stations(pg, tmp):
    procs = [subprocess.Popen(station(pg, tmp, f"s{i}", 64), env=pg.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=180)
        check(p.returncode == 0, f"station exit {p.returncode}: {err[-400:]!r}")
    check(count(pg) == 256, f"256 attempts ({count(pg)})")
    check(pg.sql("SELECT count(DISTINCT (run_id, attempt_id)) FROM rpiprov_attempts", "line") == "256",
          "no duplicate")
    check(pg.sql("SELECT count(*) FROM rpiprov_stations", "line") == "4", "four stations")
    check(pg.sql("SELECT max(version) FROM rpiprov_schema", "line") == "2", "schema version 2")
    check(count(pg, "simulated") == 256, "every simulated board's attempt says so")


def test_server_restart(pg, tmp):
    before = count(pg)
    p = subprocess.Popen(station(pg, tmp, "restart", 24, extra=["--sim-arrivals", "8s"]),
                         env=pg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Stop the server once records are flowing (not after a fixed time: a
    # loaded or sanitized station may still be migrating the schema then),
    # while most boards are still to come.
    deadline = time.monotonic() + 60
    while count(pg, "station = 'restart'") == 0 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    pg.stop("fast")
    time.sleep(1.0)
    pg.start()
    out, err = p.communicate(timeout=120)
    check(count(pg, "station = 'restart'") == 24,
          f"every record once after the restart ({count(pg, 'station = ' + repr('restart'))}); "
          f"exit {p.returncode} {err[-300:]!r}")
    check(count(pg) == before + 24, "nothing else changed")


def test_spooled_then_restarted(pg, tmp):
    pg.stop("fast")
    r = subprocess.run(station(pg, tmp, "offline", 10, extra=["--allow-db-offline"]), env=pg.env,
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 1 and "kept in the spool" in r.stderr,
          f"records kept locally, said so: {r.returncode} {r.stderr[-300:]!r}")
    pg.start()
    r = subprocess.run(station(pg, tmp, "offline", 1), env=pg.env, capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, f"the next start delivers: {r.returncode} {r.stderr[-300:]!r}")
    check(count(pg, "station = 'offline'") == 11, f"each once ({count(pg, 'station = ' + repr('offline'))})")


def test_refusals(pg, tmp):
    bad = os.path.join(tmp, "badpass")
    with open(bad, "w") as f:
        f.write("*:*:*:postgres:wrong-password\n")
    os.chmod(bad, 0o600)
    env = dict(pg.env, PGPASSFILE=bad)
    r = subprocess.run(station(pg, tmp, "badpw", 2), env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 77, f"wrong password: exit {r.returncode} {r.stderr[-300:]!r}")
    check("password authentication failed" in r.stderr, "the error says why")
    check("wrong-password" not in r.stderr + r.stdout, "the password is not shown")
    r = subprocess.run(station(pg, tmp, "nodb", 2, db="nosuchdb"), env=pg.env, capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 66, f"missing database: exit {r.returncode} {r.stderr[-300:]!r}")
    check("does not exist" in r.stderr, "the error says why")
    args = station(pg, tmp, "pwinargv", 2)
    args[args.index("--db") + 1] = pg.conninfo("line") + " password=hunter2"
    r = subprocess.run(args, env=pg.env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 64 and "hunter2" not in r.stderr, f"password in argv refused: {r.returncode}")


def derived_mismatches(pg):
    """Rows of the derived tables that disagree with rpiprov_attempts."""
    q = {
        "boards": "SELECT count(*) FROM rpiprov_boards b WHERE"
                  " attempts <> (SELECT count(*) FROM rpiprov_attempts a WHERE a.serial = b.serial)"
                  " OR successes <> (SELECT count(*) FROM rpiprov_attempts a"
                  "  WHERE a.serial = b.serial AND a.result = 'OK')"
                  " OR first_seen_ms <> (SELECT min(start_ms) FROM rpiprov_attempts a WHERE a.serial = b.serial)"
                  " OR last_seen_ms <> (SELECT max(end_ms) FROM rpiprov_attempts a WHERE a.serial = b.serial)",
        "boards missing": "SELECT count(DISTINCT serial) - (SELECT count(*) FROM rpiprov_boards)"
                          " FROM rpiprov_attempts WHERE serial <> ''",
        "metadata": "SELECT count(*) FROM rpiprov_attempts a WHERE"
                    " (SELECT count(*) FROM rpiprov_metadata m WHERE m.uid = a.uid)"
                    " <> (SELECT count(*) FROM json_object_keys(a.metadata::json))",
        "stations": "SELECT count(DISTINCT station) - (SELECT count(*) FROM rpiprov_stations) FROM rpiprov_attempts",
        "runs": "SELECT count(DISTINCT run_id) - (SELECT count(*) FROM rpiprov_runs) FROM rpiprov_attempts",
    }
    return {k: int(pg.sql(v, "line")) for k, v in q.items() if int(pg.sql(v, "line")) != 0}


def test_derived_and_replay(pg, tmp):
    check(int(pg.sql("SELECT count(*) FROM rpiprov_metadata", "line")) > 0, "metadata rows were written")
    check(not derived_mismatches(pg), f"derived tables agree with the attempts: {derived_mismatches(pg)}")
    if not LOAD:
        check(False, "records-load not given")
        return
    lines = "".join(f"replay\trr\t{i}\trp{i % 7}\t1-1.{i % 64}\t{'OK' if i % 3 else 'FAILED'}\t"
                    f"{'-' if i % 3 else 'RP_ERR_TIMEOUT'}\t{1714550400000 + i}\t{1714550404000 + i}\t\n"
                    for i in range(1, 301))
    for round_ in range(2):
        r = subprocess.run([LOAD, pg.conninfo("line")], input=lines, text=True, env=pg.env,
                           capture_output=True, timeout=120)
        check(r.returncode == 0, f"load {round_ + 1}: {r.returncode} {r.stderr[-300:]!r}")
    check(count(pg, "station = 'replay'") == 300, f"300 attempts once ({count(pg, 'station = ' + repr('replay'))})")
    check(pg.sql("SELECT attempts FROM rpiprov_boards WHERE serial = 'rp0'", "line") == "42",
          "a board's counter moved once per attempt, not per load")
    check(not derived_mismatches(pg), f"still agree after the replay: {derived_mismatches(pg)}")


def test_simulated_apart(pg, tmp):
    """Simulated boards are left out of a report, shown apart on request;
    a version 1 schema (no column yet) is read as it is."""
    pg.sql("CREATE DATABASE sim")
    r = subprocess.run(station(pg, tmp, "sim", 3, db="sim"), env=pg.env, capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, f"station: {r.returncode} {r.stderr[-300:]!r}")

    def rep(*extra):
        r = subprocess.run([RPIPROV, "report", "--db", pg.conninfo("sim"), "--json"] + list(extra),
                           env=pg.env, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"report {extra}: {r.returncode} {r.stderr!r}")
        return json.loads(r.stdout) if r.returncode == 0 else {}
    j = rep()
    check(j.get("attempts") == 0 and j.get("simulated_left_out") == 3, f"left out: {j.get('simulated_left_out')}")
    j = rep("--include-simulated")
    check(j.get("simulated", {}).get("attempts") == 3, "shown apart")
    pg.sql("ALTER TABLE rpiprov_attempts DROP COLUMN simulated;"
           " UPDATE rpiprov_schema SET version = 1;"
           " UPDATE rpiprov_attempts SET run_id = 'synthetic-' || run_id WHERE attempt_id = 1", "sim")
    j = rep()
    check(j.get("attempts") == 2 and j.get("simulated_left_out") == 1,
          f"version 1: synthetic- runs count as simulated: {j.get('attempts')} {j.get('simulated_left_out')}")


def main():
    if not RPIPROV or not FW or not os.path.isdir(FW):
        return skip_all("firmware fixtures or RPIPROV_BIN missing")
    try:
        with pg_cluster.PgCluster() as pg:
            pg.sql("CREATE DATABASE line")
            tmp = tempfile.mkdtemp(prefix="rpiprov-pg-test-")
            case("4 stations x 64 boards: 256 attempts once", test_four_stations, pg, tmp)
            case("server stopped mid-run: every record once", test_server_restart, pg, tmp)
            case("spooled while the server was down, restarted: once", test_spooled_then_restarted,
                 pg, tmp)
            case("wrong password, missing database: refused at start", test_refusals, pg, tmp)
            case("boards, stations, runs, metadata agree; a replay changes nothing",
                 test_derived_and_replay, pg, tmp)
            case("simulated boards apart; a version 1 schema is read", test_simulated_apart, pg, tmp)
    except pg_cluster.Skip as e:
        return skip_all(str(e))
    return done()


if __name__ == "__main__":
    sys.exit(main())
