#!/usr/bin/env python3
"""Reliability against a real PostgreSQL server (#18), started by the test
(pg_cluster.py):

- a server that accepts the connection and never answers (a socket on
  127.0.0.1) does not hold `station --allow-db-offline` in start-up for
  good, nor `report --db`: both end within their bounds;
- a table locked by another session does not hold the final flush: two
  SIGTERMs end the station at once, its records stay in the spool, and the
  next start delivers them once;
- a spooled record whose body no longer decodes is set aside once and
  reported once; one the server refuses for good (a value out of range,
  SQLSTATE class 22) is refused once; one with a Latin-1 byte arrives as
  valid UTF-8 with the byte escaped; every other record arrives;
- records owed to host=DIR still arrive when the next run says host=DIR/;
- a secret other than the password (sslpassword) in the connection
  string is refused and never printed;
- a second start prints no libpq NOTICE about the existing schema table;
- a role with exactly the README's grants (no CREATE) records boards."""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import case, check, done, skip_all  # noqa: E402
import pg_cluster  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
FW = os.environ.get("RPIPROV_TEST_FIRMWARE")


def payload_args():
    return ["--image", os.path.join(FW, "2711", "pieeprom-2022-04-26.bin"),
            "--recovery", os.path.join(FW, "2711", "recovery.bin")]


def station(conninfo, tmp, name, n, extra=()):
    return [RPIPROV, "station", "--simulate", str(n), "--plain", "--name", name,
            "--db", conninfo, "--spool", os.path.join(tmp, f"spool-{name}.db")] + \
        list(extra) + payload_args()


def count(pg, station_name):
    return int(pg.sql(f"SELECT count(*) FROM rpiprov_attempts WHERE station = '{station_name}'", "line"))


class SilentServer:
    """Accepts connections on 127.0.0.1 and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


def test_silent_server(pg, tmp):
    srv = SilentServer()
    try:
        conninfo = f"host=127.0.0.1 port={srv.port} user=postgres dbname=line"
        t0 = time.monotonic()
        try:
            r = subprocess.run(station(conninfo, tmp, "silent", 2, ["--allow-db-offline"]), env=pg.env,
                               capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            check(False, "station start-up against a silent server did not end in 90 s")
            return
        secs = time.monotonic() - t0
        check(r.returncode == 1 and "kept in the spool" in r.stderr,
              f"station ended, records kept in the spool: {r.returncode} {r.stderr[-400:]!r}")
        check("no answer within" in r.stderr, f"says the server did not answer: {r.stderr[-400:]!r}")
        check(secs < 60, f"within a minute ({secs:.1f} s)")
        t0 = time.monotonic()
        try:
            r = subprocess.run([RPIPROV, "report", "--db", conninfo], env=pg.env, capture_output=True,
                               text=True, timeout=60)
        except subprocess.TimeoutExpired:
            check(False, "report --db against a silent server did not end in 60 s")
            return
        check(r.returncode != 0 and "no answer within" in r.stderr,
              f"report --db gives up: {r.returncode} {r.stderr[-300:]!r} ({time.monotonic() - t0:.1f} s)")
    finally:
        srv.close()


def spool_count(path):
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM records").fetchone()[0]
    except sqlite3.Error:
        return -1


def test_locked_table(pg, tmp):
    locker = subprocess.Popen(["psql", "-X", "-q", "-d", pg.conninfo("line")], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=pg.env)
    try:
        locker.stdin.write("BEGIN; LOCK TABLE rpiprov_boards IN EXCLUSIVE MODE;\n")
        locker.stdin.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pg.sql(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " WHERE c.relname = 'rpiprov_boards' AND l.mode = 'ExclusiveLock' AND l.granted",
                "line") == "0":
            time.sleep(0.1)
        spool = os.path.join(tmp, "spool-locked.db")
        p = subprocess.Popen(station(pg.conninfo("line"), tmp, "locked", 4), env=pg.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while spool_count(spool) < 4 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # into the final flush, blocked on the lock
        check(p.poll() is None, "the station waits on the locked table")
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            check(False, "two SIGTERMs did not end a station blocked on a locked table in 30 s")
            return
        secs = time.monotonic() - t0
        check(secs < 5, f"ended within 5 s of the second SIGTERM ({secs:.1f} s)")
        check("kept in the spool" in err, f"records said to be kept: {err[-400:]!r}")
        check(spool_count(spool) == 4, f"4 records in the spool ({spool_count(spool)})")
    finally:
        locker.stdin.close()
        locker.wait(timeout=30)
    r = subprocess.run(station(pg.conninfo("line"), tmp, "locked", 1), env=pg.env, capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0, f"next start: {r.returncode} {r.stderr[-300:]!r}")
    check(count(pg, "locked") == 5, f"5 attempts once ({count(pg, 'locked')})")


def test_bad_records(pg, tmp):
    pg.stop("fast")
    try:
        r = subprocess.run(station(pg.conninfo("line"), tmp, "bad", 6, ["--allow-db-offline"]), env=pg.env,
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 1, f"records kept in the spool: {r.returncode} {r.stderr[-300:]!r}")
    finally:
        pg.start()
    spool = os.path.join(tmp, "spool-bad.db")
    db = sqlite3.connect(spool)
    rows = db.execute("SELECT seq, body FROM records ORDER BY seq").fetchall()
    check(len(rows) == 6, f"6 spooled ({len(rows)})")
    # Record 2: damaged. Record 3: a Latin-1 byte in its serial. Record 4:
    # an attempt id PostgreSQL cannot hold (class 22: out of range).
    db.execute("UPDATE records SET body = ? WHERE seq = ?", ('{"attempt_id": 3, "serial": "trunc', rows[1][0]))
    o = json.loads(rows[2][1])
    o["serial"] = "LATIN1MARK"
    body = json.dumps(o).encode().replace(b"LATIN1MARK", b"caf\xe9")
    db.execute("UPDATE records SET body = CAST(? AS TEXT) WHERE seq = ?", (body, rows[2][0]))
    o = json.loads(rows[3][1])
    o["attempt_id"] = 18446744073709551615
    db.execute("UPDATE records SET body = ? WHERE seq = ?", (json.dumps(o), rows[3][0]))
    db.commit()
    db.close()
    r = subprocess.run(station(pg.conninfo("line"), tmp, "bad", 1), env=pg.env, capture_output=True,
                       text=True, timeout=120)
    check(r.stderr.count("set aside") == 1, f"the damaged record is reported once: {r.stderr[-600:]!r}")
    check("out of range" in r.stderr, f"the refused record is reported: {r.stderr[-600:]!r}")
    check(count(pg, "bad") == 5, f"the other 5 arrived ({count(pg, 'bad')}): {r.stderr[-400:]!r}")
    check(pg.sql("SELECT serial FROM rpiprov_attempts WHERE station = 'bad' AND serial LIKE 'caf%'", "line")
          == "caf\\xe9", "the Latin-1 byte arrives escaped")
    r = subprocess.run(station(pg.conninfo("line"), tmp, "bad", 1), env=pg.env, capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0 and "set aside" not in r.stderr and "out of range" not in r.stderr,
          f"nothing is retried or reported again: {r.returncode} {r.stderr[-400:]!r}")
    check(count(pg, "bad") == 6, f"and the next record arrives ({count(pg, 'bad')})")
    db = sqlite3.connect(spool)
    check(db.execute("SELECT count(*) FROM set_aside").fetchone()[0] == 1, "the damaged record is kept")
    db.close()


def test_spelled_differently(pg, tmp):
    pg.stop("fast")
    try:
        r = subprocess.run(station(pg.conninfo("line"), tmp, "spell", 3, ["--allow-db-offline"]),
                           env=pg.env, capture_output=True, text=True, timeout=120)
        check(r.returncode == 1, f"records kept in the spool: {r.returncode} {r.stderr[-300:]!r}")
    finally:
        pg.start()
    other = pg.conninfo("line").replace(f"host={pg.sock}", f"host={pg.sock}/")
    check(other != pg.conninfo("line"), "spelled differently")
    r = subprocess.run(station(other, tmp, "spell", 1), env=pg.env, capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, f"{r.returncode} {r.stderr[-300:]!r}")
    check(count(pg, "spell") == 4, f"the 3 owed records arrived too ({count(pg, 'spell')})")


def test_secrets(pg, tmp):
    for kw in ("sslpassword", "password"):
        args = station(pg.conninfo("line") + f" {kw}=topsecret42", tmp, "secret", 1)
        r = subprocess.run(args, env=pg.env, capture_output=True, text=True, timeout=60)
        check(r.returncode == 64, f"{kw}: refused ({r.returncode})")
        check("topsecret42" not in r.stdout + r.stderr, f"{kw}: never printed")
    args = station(f"host={pg.sock} port={pg.port} dbname=postgresql://u:topsecret42@h/line", tmp,
                   "secret", 1)
    r = subprocess.run(args, env=pg.env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 64 and "topsecret42" not in r.stdout + r.stderr,
          f"a connection string inside dbname: refused, never printed ({r.returncode})")
    uri = f"postgresql://postgres:topsecret42@localhost/line?host={pg.sock}&port={pg.port}"
    r = subprocess.run([RPIPROV, "report", "--db", uri], env=pg.env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 64 and "topsecret42" not in r.stdout + r.stderr, f"report: refused ({r.returncode})")
    r = subprocess.run(station(pg.conninfo("line"), tmp, "named", 1), env=pg.env, capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0 and "host=" not in r.stdout + r.stderr,
          f"the summary names the database without its string: {r.stdout[-300:]!r}")


def test_no_notice(pg, tmp):
    for i in range(2):
        r = subprocess.run(station(pg.conninfo("line"), tmp, "notice", 1), env=pg.env, capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0, f"start {i + 1}: {r.returncode} {r.stderr[-300:]!r}")
        check("NOTICE" not in r.stderr, f"start {i + 1}: no libpq NOTICE: {r.stderr[-300:]!r}")


def test_least_privilege(pg, tmp):
    pg.sql("CREATE ROLE station LOGIN PASSWORD 'station-pw-9c1'")
    # Exactly the README's grants.
    for g in ("GRANT CONNECT ON DATABASE line TO station",
              "GRANT USAGE ON SCHEMA public TO station",
              "GRANT SELECT, INSERT ON rpiprov_schema, rpiprov_attempts, rpiprov_metadata,"
              " rpiprov_runs, rpiprov_stations, rpiprov_boards TO station",
              "GRANT UPDATE ON rpiprov_boards, rpiprov_stations TO station"):
        pg.sql(g, "line")
    check(pg.sql("SELECT has_schema_privilege('station', 'public', 'CREATE')", "line") == "f",
          "the role cannot create tables")
    passfile = os.path.join(tmp, "pgpass-station")
    with open(passfile, "w") as f:
        f.write("*:*:*:station:station-pw-9c1\n")
    os.chmod(passfile, 0o600)
    env = dict(pg.env, PGPASSFILE=passfile)
    before = count(pg, "leastpriv")
    r = subprocess.run(station(pg.conninfo("line", user="station"), tmp, "leastpriv", 3), env=env,
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"the README's role records boards: {r.returncode} {r.stderr[-400:]!r}")
    check(count(pg, "leastpriv") == before + 3, f"3 attempts ({count(pg, 'leastpriv')})")


def test_crash_loop_flapping(pg, tmp):
    """SIGKILL at random moments while the server is stopped and started
    underneath; then one clean run: every attempt exactly once in the
    database and in the report."""
    import random
    rnd = random.Random(int(os.environ.get("RPIPROV_CRASH_SEED", "18")))
    rounds = int(os.environ.get("RPIPROV_CRASH_ROUNDS", "24"))
    report = os.path.join(tmp, "flap.jsonl")
    args = station(pg.conninfo("line"), tmp, "flap", 32, ["--allow-db-offline", "--report", report,
                                                          "--sim-arrivals", "2s"])
    kills = 0
    up = True
    for _ in range(rounds):
        p = subprocess.Popen(args, env=pg.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.05, 1.5))
        if rnd.random() < 0.5:
            if up:
                pg.stop(rnd.choice(["fast", "immediate"]))
            else:
                pg.start()
            up = not up
            time.sleep(rnd.uniform(0, 0.5))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    if not up:
        pg.start()
    r = subprocess.run(station(pg.conninfo("line"), tmp, "flap", 1, ["--report", report]), env=pg.env,
                       capture_output=True, text=True, timeout=180)
    check(r.returncode == 0, f"the last run delivers everything: {r.returncode} {r.stderr[-400:]!r}")
    ids = []
    with open(report) as f:
        for line in f:
            o = json.loads(line)
            ids.append((o["run_id"], o["attempt_id"]))
    rows = pg.sql("SELECT run_id || ' ' || attempt_id FROM rpiprov_attempts WHERE station = 'flap'", "line")
    in_db = sorted(tuple(x.split(" ")) for x in rows.splitlines() if x)
    in_db = sorted((a, int(b)) for a, b in in_db)
    check(len(ids) == len(set(ids)), f"report: each attempt once ({len(ids) - len(set(ids))} twice)")
    check(sorted(set(ids)) == in_db, f"report and database hold the same attempts ({len(ids)} vs {len(in_db)})")
    check(kills >= rounds * 2 // 3, f"killed mid-run ({kills} of {rounds})")
    print(f"# crash loop: {kills} SIGKILLs, {len(in_db)} attempts, each once in both", file=sys.stderr)


def main():
    if not RPIPROV or not FW or not os.path.isdir(FW):
        return skip_all("firmware fixtures or RPIPROV_BIN missing")
    only = set(os.environ.get("RPIPROV_TEST_ONLY", "").split(",")) - {""}
    try:
        with pg_cluster.PgCluster(port=54331) as pg:
            pg.sql("CREATE DATABASE line")
            tmp = tempfile.mkdtemp(prefix="rpiprov-pg-bounds-")
            cases = [
                ("notice", "a second start prints no libpq NOTICE", test_no_notice),
                ("silent", "a server that never answers: start-up and report end", test_silent_server),
                ("locked", "a locked table: two SIGTERMs end the station, records kept once",
                 test_locked_table),
                ("bad", "damaged, refused and Latin-1 records: the rest arrive", test_bad_records),
                ("spell", "host=DIR then host=DIR/: owed records arrive", test_spelled_differently),
                ("secrets", "secrets in the connection string refused, never printed", test_secrets),
                ("leastpriv", "the README's least-privilege role works", test_least_privilege),
                ("flap", "crash loop: SIGKILLs with the server flapping, every attempt once",
                 test_crash_loop_flapping),
            ]
            for key, name, fn in cases:
                if not only or key in only:
                    case(name, fn, pg, tmp)
    except pg_cluster.Skip as e:
        return skip_all(str(e))
    return done()


if __name__ == "__main__":
    sys.exit(main())
