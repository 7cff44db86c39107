#!/usr/bin/env python3
"""Records converge, as a user sees them (#10).

- crash loop: a station SIGKILLed 40 times mid-tray, then run to the end:
  JSON Lines, SQLite and the metadata files hold exactly the same
  attempts, each once; no torn line, no stale temporary file;
- `report` is read-only: it creates nothing beside the database, and
  works for a user who may not write the database's directory, also when
  the write-ahead log has content and no -shm file is there;
- a foreign SQLite database is refused (65) and left without our tables;
- exit codes agree across commands: a directory the user may not write
  is 77 (no permission) for station, flash and report's missing file is
  66; a malformed database is 65 for station, flash and report.

Commands that must lack write access run as `nobody` (tests run as root,
which a chmod does not stop). `nobody` runs a copy of the binary and of
the firmware it is given, in a folder it may enter: the checkout may sit
in one it may not (root's home, any `mktemp -d`)."""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_all  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
FW = os.environ.get("RPIPROV_TEST_FIRMWARE")
# What `nobody` runs and reads: copies in a folder every user may enter
# (set up by main()).
REACHABLE = {}


def payload_args():
    if REACHABLE:
        return ["--image", REACHABLE["image"], "--recovery", REACHABLE["recovery"]]
    return ["--image", os.path.join(FW, "2711", "pieeprom-2022-04-26.bin"),
            "--recovery", os.path.join(FW, "2711", "recovery.bin")]


def make_reachable(where):
    """Copy the binary and the firmware into `where` (0755, files 0644/0755):
    runuser cannot run, nor can the user read, what lies behind a folder
    it may not enter."""
    os.chmod(where, 0o755)
    for key, src, mode in (("bin", RPIPROV, 0o755),
                           ("image", os.path.join(FW, "2711", "pieeprom-2022-04-26.bin"), 0o644),
                           ("recovery", os.path.join(FW, "2711", "recovery.bin"), 0o644)):
        dst = os.path.join(where, key + "-" + os.path.basename(src))
        shutil.copyfile(src, dst)
        os.chmod(dst, mode)
        REACHABLE[key] = dst


def run(args, timeout=60, user=None):
    cmd = [RPIPROV] + args
    if user:
        cmd = ["runuser", "-u", user, "--", REACHABLE.get("bin", RPIPROV)] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def jsonl_keys(path):
    keys, bad = [], 0
    with open(path, "rb") as f:
        for line in f:
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("torn")
                o = json.loads(line)
                keys.append((o["run_id"], o["attempt_id"], o["serial"], bool(o["metadata"])))
            except (ValueError, KeyError):
                bad += 1
    return keys, bad


def test_crash_loop(tmp):
    report = os.path.join(tmp, "r.jsonl")
    db = os.path.join(tmp, "b.db")
    meta = os.path.join(tmp, "meta")
    args = ["station", "--simulate", "64", "--plain", "--name", "crash", "--report", report,
            "--db", db, "--metadata-dir", meta] + payload_args()
    rnd = random.Random(10)
    kills = 0
    for _ in range(40):
        p = subprocess.Popen([RPIPROV] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Somewhere in the tray: after a random share of its boards.
        deadline = time.monotonic() + 10
        want = rnd.randint(0, 40)
        start = os.path.getsize(report) if os.path.exists(report) else 0
        while time.monotonic() < deadline and p.poll() is None:
            size = os.path.getsize(report) if os.path.exists(report) else 0
            if size - start >= want * 600:
                break
            time.sleep(0.002)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    check(kills >= 35, f"the station was killed mid-tray ({kills} of 40)")
    r = run(args, timeout=120)
    check(r.returncode == 0, f"the last run ends cleanly: {r.returncode} {r.stderr[-400:]!r}")
    keys, bad = jsonl_keys(report)
    check(bad == 0, f"no torn or malformed line in the report ({bad})")
    check(len(keys) == len(set(keys)), f"no attempt twice in the report ({len(keys) - len(set(keys))})")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT run_id, attempt_id, serial FROM attempts").fetchall()
    per_board = dict(con.execute("SELECT serial, attempts FROM boards").fetchall())
    con.close()
    check(len(rows) >= 64, f"the attempts are there ({len(rows)})")
    check(sorted((k[0], k[1], k[2]) for k in keys) == sorted(rows),
          f"report and database hold the same attempts ({len(keys)} vs {len(rows)})")
    counted = {}
    for k in keys:
        counted[k[2]] = counted.get(k[2], 0) + 1
    check(counted == per_board, "the boards table counts every attempt once")
    files = os.listdir(meta)
    check(not [f for f in files if ".tmp." in f], f"no stale temporary files: {files[:5]}")
    serials = {k[2] for k in keys if k[3]}
    check(set(f[:-5] for f in files if f.endswith(".json")) == serials,
          "a metadata file for every board with metadata, and no other")
    spool = os.path.join(tmp, "rpiprov-spool-crash.db")
    con = sqlite3.connect(spool)
    left = con.execute("SELECT count(*) FROM records").fetchone()[0]
    con.close()
    check(left == 0, f"the spool is empty once every sink has every record ({left})")


def test_spool_unwritable(tmp):
    """The spool at its file size limit: no board is shown finished whose
    record is not in the report, and the station says so loudly and takes
    no new boards."""
    import re
    import threading
    import urllib.request
    report = os.path.join(tmp, "r.jsonl")
    args = ["prlimit", f"--fsize={160 * 1024}", RPIPROV, "station", "--simulate", "64",
            "--sim-arrivals", "8s", "--sim-timing", "realistic", "--plain", "--name", "fsize",
            "--report", report, "--http", "127.0.0.1:0"] + payload_args()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines, seen = [], {"metrics": False, "status": False}

    def read_err():
        for line in p.stderr:
            err_lines.append(line)

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    url, deadline = None, time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        if url is None:
            m = re.search(r"dashboard: (http://\S+/) ", "".join(err_lines))
            url = m.group(1) if m else None
        elif any("RECORDS AT RISK" in l for l in err_lines):
            try:
                with urllib.request.urlopen(url + "metrics", timeout=5) as resp:
                    seen["metrics"] |= "rpiprov_records_at_risk 1" in resp.read().decode()
                with urllib.request.urlopen(url + "api/status", timeout=5) as resp:
                    seen["status"] |= json.loads(resp.read())["records_at_risk"] is True
            except OSError:
                pass
            if all(seen.values()):
                break
        time.sleep(0.05)
    out = p.communicate(timeout=180)[0]
    reader.join(timeout=10)
    r = subprocess.CompletedProcess(args, p.returncode, out, "".join(err_lines))
    check(seen["metrics"] and seen["status"], f"/metrics and /api/status say records are at risk: {seen}")
    shown = [l for l in r.stdout.splitlines() if " OK after " in l]
    keys, bad = jsonl_keys(report)
    check(bad == 0, f"no torn line ({bad})")
    check("RECORDS AT RISK" in r.stderr, f"said loudly: {r.stderr[-500:]!r}")
    check(len(shown) > 0, "some boards finished")
    check(len(keys) >= len(shown), f"every board shown OK is in the report ({len(keys)} of {len(shown)})")
    check(len(shown) < 64, f"no new boards taken once records are at risk ({len(shown)} of 64)")
    check(r.returncode != 0, f"exit status says so ({r.returncode})")


def lines_of(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def rotate_mid_run(tmp, mode):
    """A station writes r.jsonl while logrotate (the real one) rotates it
    with `mode` (create or copytruncate). Returns the report's attempt ids
    over every generation, and the bytes of the current file."""
    report = os.path.join(tmp, "r.jsonl")
    conf = os.path.join(tmp, "logrotate.conf")
    with open(conf, "w") as f:
        f.write(f"{report} {{\n  rotate 9\n  {mode}\n  nocompress\n  missingok\n}}\n")
    args = [RPIPROV, "station", "--simulate", "24", "--sim-arrivals", "6s", "--plain", "--name", "rot",
            "--report", report] + payload_args()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while lines_of(report).count(b"\n") < 6 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    r = subprocess.run(["logrotate", "-f", "-s", os.path.join(tmp, "state"), conf], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, f"logrotate: {r.stderr}")
    check(p.poll() is None, "rotated while the station runs")
    err = p.communicate(timeout=120)[1]
    check(p.returncode == 0, f"{mode}: the station ends cleanly: {p.returncode} {err[-300:]!r}")
    ids, bad = [], 0
    for name in sorted(os.listdir(tmp)):
        if name.startswith("r.jsonl"):
            data = lines_of(os.path.join(tmp, name))
            check(b"\0" not in data, f"{mode}: no hole (NUL bytes) in {name}")
            for line in data.splitlines():
                try:
                    ids.append(json.loads(line)["attempt_id"])
                except (ValueError, KeyError):
                    bad += 1
    check(bad == 0, f"{mode}: every line is a record ({bad} bad)")
    return ids, lines_of(report)


def test_logrotate(tmp):
    if not shutil.which("logrotate"):
        check(not os.environ.get("CI"), "logrotate missing (CI is set)")
        print("# logrotate not installed: case not run", file=sys.stderr)
        return
    for mode in ("create", "copytruncate"):
        sub = os.path.join(tmp, mode)
        os.mkdir(sub, 0o700)
        ids, current = rotate_mid_run(sub, mode)
        check(len(ids) == len(set(ids)), f"{mode}: no attempt twice ({len(ids) - len(set(ids))})")
        check(current.count(b"\n") > 0, f"{mode}: lines after the rotation go to the file by its name")
        if mode == "create":
            check(sorted(ids) == list(range(1, 25)), f"create: every attempt once over both files ({len(ids)})")
        else:
            check(len(ids) >= 20, f"copytruncate: at most what its copy window loses ({len(ids)} of 24)")


def flash_against_lock(tmp, name, hold_s, signals=0):
    """flash --simulate 4 --db FILE (no spool file: the records live only in
    memory) while another process holds the database's write lock for
    hold_s seconds (None: for good), signalled SIGINT `signals` times once
    its boards are done."""
    db = os.path.join(tmp, name + ".db")
    r = run(["flash", "--simulate", "1", "--db", db] + payload_args())
    check(r.returncode == 0, f"the database is made: {r.stderr[-300:]!r}")
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    t0 = time.monotonic()
    p = subprocess.Popen([RPIPROV, "flash", "--simulate", "4", "--db", db] + payload_args(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    released = False
    try:
        while p.poll() is None and time.monotonic() - t0 < (hold_s or 4):
            time.sleep(0.05)
        if signals:
            for _ in range(signals):
                p.send_signal(signal.SIGINT)
                time.sleep(0.2)
        elif hold_s:
            lock.execute("COMMIT")
            released = True
        t1 = time.monotonic()
        out, err = p.communicate(timeout=120)
        after = time.monotonic() - t1
    finally:
        if not released:
            lock.execute("ROLLBACK")
        lock.close()
    con = sqlite3.connect(db)
    n = con.execute("SELECT count(*) FROM attempts").fetchone()[0]
    con.close()
    return p.returncode, n, after, err


def test_flash_late_lock(tmp):
    code, n, _, err = flash_against_lock(tmp, "late", 15)
    check(code == 0, f"every board done and recorded once the lock goes: exit 0 ({code}) {err[-300:]!r}")
    check(n == 5, f"the 4 records are in the database ({n - 1})")
    code, n, after, err = flash_against_lock(tmp, "never", None, signals=2)
    check(after < 15, f"two Ctrl-C end the wait for a lock that never goes ({after:.1f} s)")
    check(code == 73 and n == 1, f"and say the records were not written ({code}, {n - 1})")


def make_db(tmp, name):
    db = os.path.join(tmp, name)
    r = run(["station", "--simulate", "3", "--plain", "--name", "ro", "--db", db] + payload_args())
    check(r.returncode == 0, f"station made {name}: {r.stderr!r}")
    # Counted as real boards' (a report leaves simulated ones out).
    con = sqlite3.connect(db)
    con.execute("UPDATE attempts SET simulated = 0")
    con.commit()
    con.close()
    return db


def test_report_read_only(tmp):
    os.chmod(tmp, 0o755)
    db = make_db(tmp, "ro.db")
    # Nothing is created or changed beside the database.
    before = {f: open(os.path.join(tmp, f), "rb").read() for f in os.listdir(tmp)}
    r = run(["report", "--db", db, "--json"])
    check(r.returncode == 0, f"report: {r.returncode} {r.stderr!r}")
    after = {f: open(os.path.join(tmp, f), "rb").read() for f in os.listdir(tmp)}
    check(before == after, f"report wrote nothing: {sorted(before)} -> {sorted(after)}")

    # A writer killed with records in its write-ahead log, and no -shm:
    # the reader may not create one in this directory.
    pid = os.fork()
    if pid == 0:
        c = sqlite3.connect(db)
        c.execute("PRAGMA wal_autocheckpoint = 0")
        c.execute("INSERT INTO attempts (run_id, attempt_id, station, serial, port, soc, pid,"
                  " start_ms, end_ms, duration_ms, stage1_ms, reenum_ms, serve_ms, verify_ms,"
                  " result, bytes_served, files_served, metadata, metadata_dropped)"
                  " VALUES ('wal', 1, 'ro', '10000000abcdef01', '1-1.9', '2711', 10001,"
                  " 1, 2, 1, 0, 0, 0, 0, 'OK', 0, 0, '{}', 0)")
        c.commit()
        os._exit(0)
    os.waitpid(pid, 0)
    if os.path.exists(db + "-shm"):
        os.unlink(db + "-shm")
    check(os.path.getsize(db + "-wal") > 0, "the log has content")
    r = run(["report", "--db", db, "--json"], user="nobody")
    check(r.returncode == 0, f"report as a user without write access: {r.returncode} {r.stderr!r}")
    if r.returncode == 0:
        check(json.loads(r.stdout)["attempts"] == 4, "the report includes the log's attempt")
    check(not os.path.exists(db + "-shm"), "no -shm made beside the database")


def test_foreign_database(tmp):
    other = os.path.join(tmp, "app.sqlite")
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    c.commit()
    c.close()
    r = run(["station", "--simulate", "2", "--plain", "--db", other] + payload_args())
    check(r.returncode == 65, f"station refuses a foreign database: {r.returncode} {r.stderr!r}")
    check("not an rpiprov database" in r.stderr, f"and says why: {r.stderr!r}")
    c = sqlite3.connect(other)
    tables = [t[0] for t in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    c.close()
    check(tables == ["invoices"], f"no tables added: {tables}")
    r = run(["report", "--db", other])
    check(r.returncode == 65, f"report: {r.returncode}")


def test_exit_codes(tmp):
    os.chmod(tmp, 0o755)
    ro = os.path.join(tmp, "locked")
    os.mkdir(ro, 0o755)  # root's: nobody may not write here
    for what, args in [("station --db", ["station", "--simulate", "1", "--plain", "--db"]),
                       ("station --report", ["station", "--simulate", "1", "--plain", "--report"]),
                       ("flash --db", ["flash", "--simulate", "1", "--db"]),
                       ("flash --report", ["flash", "--simulate", "1", "--report"])]:
        target = os.path.join(ro, "x.db" if "--db" in args else "x.jsonl")
        r = run(args + [target] + payload_args(), user="nobody")
        check(r.returncode == 77, f"{what} in a read-only directory: {r.returncode} {r.stderr!r}")
    r = run(["report", "--db", os.path.join(ro, "none.db")], user="nobody")
    check(r.returncode == 66, f"report of a missing database: {r.returncode}")

    bad = os.path.join(tmp, "garbage.db")
    with open(bad, "wb") as f:
        f.write(b"this is not a database, just text" * 200)
    for what, args in [("station", ["station", "--simulate", "1", "--plain", "--db", bad]),
                       ("flash", ["flash", "--simulate", "1", "--db", bad]),
                       ("report", ["report", "--db", bad])]:
        if what != "report":
            args += payload_args()
        r = run(args)
        check(r.returncode == 65, f"{what} with a malformed database: {r.returncode} {r.stderr!r}")


def test_same_file(tmp):
    """One file given for two records is refused up front (64), whatever
    path reaches it, and nothing is written; one file through two paths is
    one sink in the spool."""
    os.mkdir(os.path.join(tmp, "d"))
    os.symlink("d", os.path.join(tmp, "link"))
    x, y = os.path.join(tmp, "d", "x.db"), os.path.join(tmp, "link", "x.db")
    for what, args in [("--report X --db X (not there yet)", ["--report", x, "--db", y]),
                       ("--db X --metadata-dir X/", ["--db", x, "--metadata-dir", x + "/"]),
                       ("--spool X --report X", ["--spool", y, "--report", os.path.join(tmp, "d", "..", "d", "x.db")])]:
        for cmd in (["flash", "--simulate", "1"], ["station", "--simulate", "1", "--plain"]):
            r = run(cmd + args + payload_args())
            check(r.returncode == 64 and "same file" in r.stderr, f"{cmd[0]} {what}: {r.returncode} {r.stderr[-300:]!r}")
            check(os.listdir(os.path.join(tmp, "d")) == [], f"{cmd[0]} {what}: nothing written")
    open(x, "w").close()
    r = run(["flash", "--simulate", "1", "--report", x, "--db", y] + payload_args())
    check(r.returncode == 64 and os.path.getsize(x) == 0, f"existing file: {r.returncode}, untouched")
    os.unlink(x)

    spool = os.path.join(tmp, "spool.db")
    report = os.path.join(tmp, "d", "r.jsonl")
    for path in (report, os.path.join(tmp, "link", "r.jsonl"), os.path.join(tmp, "d", ".", "r.jsonl")):
        r = run(["station", "--simulate", "2", "--plain", "--name", "same", "--spool", spool, "--report", path]
                + payload_args())
        check(r.returncode == 0, f"station --report {path}: {r.returncode} {r.stderr[-300:]!r}")
    c = sqlite3.connect(spool)
    sinks = [k for (k,) in c.execute("SELECT sink FROM cursors")]
    c.close()
    check(sinks == ["report " + os.path.realpath(report)], f"one sink for one file: {sinks}")
    with open(report) as f:
        check(len(f.readlines()) == 6, "every attempt once")


def main():
    if not RPIPROV or not FW or not os.path.isdir(FW):
        return skip_all("firmware fixtures or RPIPROV_BIN missing")
    if os.geteuid() != 0 or not shutil.which("runuser"):
        return skip_all("needs root and runuser to test a user without write access")
    reach = tempfile.mkdtemp(prefix="rpiprov-records-cli-bin-")
    make_reachable(reach)
    for name, fn in [("crash loop: 40 SIGKILLs, every sink the same attempts", test_crash_loop),
                     ("spool at its file size limit: nothing shown OK is lost, said loudly",
                      test_spool_unwritable),
                     ("the report under logrotate (create, copytruncate)", test_logrotate),
                     ("flash: a database lock released late loses nothing; two Ctrl-C end the wait",
                      test_flash_late_lock),
                     ("report is read-only", test_report_read_only),
                     ("a foreign database is refused", test_foreign_database),
                     ("exit codes agree across commands", test_exit_codes),
                     ("one file for two records is refused; one file by two paths is one sink",
                      test_same_file)]:
        tmp = tempfile.mkdtemp(prefix="rpiprov-records-cli-")
        try:
            case(name, fn, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(reach, ignore_errors=True)
    return done()


if __name__ == "__main__":
    sys.exit(main())
