#!/usr/bin/env python3
"""`rpiprov station` and `rpiprov report` as a user runs them: config
errors (file and line, exit status, nothing touched), SIGTERM in the
middle of a tray (boards in flight finish, records complete), a second
signal (abort, records still complete), --json events, and the report's
text, CSV and JSON forms."""
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, failures, skip_all  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
FW = os.environ.get("RPIPROV_TEST_FIRMWARE")


def payload_args():
    return ["--image", os.path.join(FW, "2711", "pieeprom-2022-04-26.bin"),
            "--recovery", os.path.join(FW, "2711", "recovery.bin")]


def run(args, timeout=60):
    return subprocess.run([RPIPROV] + args, capture_output=True, text=True, timeout=timeout)


def jsonl(path):
    out = []
    with open(path) as f:
        for line in f:
            check(line.endswith("\n"), "JSONL line ends with a newline")
            out.append(json.loads(line))
    return out


def test_config_errors(tmp):
    report = os.path.join(tmp, "never.jsonl")
    bad = os.path.join(tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write(f"# station\nreport = {report}\nstation = t1\nimagee = x.bin\n")
    r = run(["station", "--config", bad, "--simulate", "2"] + payload_args())
    check(r.returncode == 65, f"unknown key: exit 65, got {r.returncode}: {r.stderr}")
    check(f"{bad}:4:" in r.stderr and "unknown key 'imagee'" in r.stderr,
          f"message names file and line: {r.stderr!r}")
    check(not os.path.exists(report), "no report written before the config is valid")
    check("started" not in r.stdout, "no board started")

    with open(bad, "w") as f:
        f.write(f"report = {report}\n[station]\nboard_timeout = soon\n")
    r = run(["station", "--config", bad, "--simulate", "2"] + payload_args())
    check(r.returncode == 65 and f"{bad}:3:" in r.stderr, f"bad value: {r.returncode} {r.stderr!r}")

    with open(bad, "w") as f:
        f.write(f"report = {report}\nprofile = netboot\nconfig = /etc/boot.conf\n")
    r = run(["station", "--config", bad, "--simulate", "2"] + payload_args())
    check(r.returncode == 65 and "'profile' and 'config'" in r.stderr,
          f"conflicting keys: {r.returncode} {r.stderr!r}")

    r = run(["station", "--config", os.path.join(tmp, "missing.conf"), "--simulate", "2"])
    check(r.returncode == 66 and "missing.conf" in r.stderr, f"missing config: {r.returncode} {r.stderr!r}")

    r = run(["station", "--simulate", "2", "--board-timeout", "soon", "--report", report] + payload_args())
    check(r.returncode == 64 and "board_timeout" in r.stderr, f"bad option: {r.returncode} {r.stderr!r}")

    r = run(["station", "--simulate", "2", "--report", report, "--image", os.path.join(tmp, "no.bin"),
             "--recovery", os.path.join(FW, "2711", "recovery.bin")])
    check(r.returncode == 66 and "no.bin" in r.stderr, f"missing image: {r.returncode} {r.stderr!r}")
    check(not os.path.exists(report), "still no report")

    r = run(["station", "--help"])
    check(r.returncode == 0 and "--simulate" in r.stdout, "--help")


def start_station(tmp, name, n, extra):
    args = ["station", "--simulate", str(n), "--sim-timing", "realistic", "--plain",
            "--report", os.path.join(tmp, name + ".jsonl"), "--db", os.path.join(tmp, name + ".db"),
            "--metadata-dir", os.path.join(tmp, name + "-meta"), "--name", name] + extra + payload_args()
    return subprocess.Popen([RPIPROV] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            bufsize=1)


def read_until_started(p, want, limit=30.0):
    lines, started = [], 0
    deadline = time.monotonic() + limit
    while started < want and time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        started += " started (attempt " in line
    return lines, started


def test_sigterm(tmp, twice, sig=signal.SIGTERM):
    name = ("abort" if twice else "term") + ("" if sig == signal.SIGTERM else "-" + sig.name)
    # 12 boards of ~3 s each arriving over 6 s: signal once 3 are in flight.
    p = start_station(tmp, name, 12, ["--sim-arrivals", "6s", "--sim-seed", "5"])
    lines, started = read_until_started(p, 3)
    check(started == 3, f"three boards started before the signal ({started})")
    t0 = time.monotonic()
    p.send_signal(sig)
    if twice:
        time.sleep(0.3)
        p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        check(False, f"station did not exit after {sig.name}")
    took = time.monotonic() - t0
    lines += out.splitlines(keepends=True)
    started = sum(" started (attempt " in l for l in lines)
    finished = [l for l in lines if " after " in l and (" OK " in l or " FAILED " in l or
                                                      " TIMEOUT " in l or " LEFT " in l)]
    check(p.returncode >= 0, f"{name}: not killed by the signal ({p.returncode})")
    check(started >= 3, f"{name}: boards started: {started}")
    check(len(finished) == started, f"{name}: every started board finished ({len(finished)}/{started})")
    check(started < 12, f"{name}: the boards not yet in flight were not taken ({started})")
    check("stopping" in err, f"{name}: says it is stopping: {err!r}")

    recs = jsonl(os.path.join(tmp, name + ".jsonl"))
    check(len(recs) == started, f"{name}: one JSONL record per attempt ({len(recs)} vs {started})")
    check(len({r["attempt_id"] for r in recs}) == len(recs), f"{name}: attempt ids unique")
    db = sqlite3.connect(os.path.join(tmp, name + ".db"))
    n_db = db.execute("SELECT count(*) FROM attempts").fetchone()[0]
    check(n_db == started, f"{name}: one DB row per attempt ({n_db})")
    db.close()
    for r in recs:
        for key in ("start", "end", "port", "serial", "result", "phase_ms", "metadata"):
            check(key in r, f"{name}: record has {key}")
    if twice:
        check(p.returncode == 1, f"abort: exit 1, got {p.returncode}")
        check(any(r["result"] != "OK" for r in recs), "abort: boards in flight did not end OK")
        check("abort" in err, f"abort: says so: {err!r}")
    else:
        check(p.returncode == 0, f"SIGTERM: exit 0 when every board finished OK, got {p.returncode}: {err}")
        check(all(r["result"] == "OK" for r in recs), "SIGTERM: boards in flight finished OK")
        # In flight when signalled: about 3 s of board work left at most.
        check(took < 15, f"SIGTERM: exit within the boards' remaining time ({took:.1f}s)")
        check(len(os.listdir(os.path.join(tmp, name + "-meta"))) == started, "metadata file per board")


def test_ignored_signals(tmp):
    """SIGUSR1/SIGUSR2 (a stray kill, a log rotator's habit) end nothing."""
    p = start_station(tmp, "usr", 6, ["--sim-arrivals", "3s", "--sim-seed", "5"])
    lines, started = read_until_started(p, 2)
    for sig in (signal.SIGUSR1, signal.SIGUSR2):
        p.send_signal(sig)
        time.sleep(0.2)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    check(p.returncode == 0, f"every board done, exit 0 ({p.returncode}): {err[-300:]!r}")
    recs = jsonl(os.path.join(tmp, "usr.jsonl"))
    check(len(recs) == 6, f"all 6 boards recorded ({len(recs)})")


def test_json_events(tmp):
    r = run(["station", "--simulate", "3", "--json", "--sim-fault", "stall@image:2"] + payload_args())
    check(r.returncode == 1, f"--json run with a failing board exits 1, got {r.returncode}: {r.stderr}")
    events = [json.loads(l) for l in r.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    check(kinds.count("started") == 3 and kinds.count("finished") == 3, f"events: {kinds}")
    check("phase" in kinds and "progress" in kinds, "phase and progress events")
    fin = [e for e in events if e["event"] == "finished"]
    check(sorted(e["record"]["result"] for e in fin) == ["FAILED", "OK", "OK"], "results in records")
    for e in events:
        check("time" in e and "unix_ms" in e, "every event has a time")


def test_report(tmp):
    db = os.path.join(tmp, "rep.db")
    r = run(["station", "--simulate", "6", "--plain", "--db", db, "--sim-fault", "stall:2",
             "--sim-fault", "leave@image:4"] + payload_args())
    check(r.returncode == 1, f"run for the report: {r.returncode} {r.stderr}")
    # The figures as for real boards (simulated ones are left out of a
    # report: tests/records/test-simulated.py).
    con = sqlite3.connect(db)
    con.execute("UPDATE attempts SET simulated = 0")
    con.commit()
    con.close()

    r = run(["report", "--db", db])
    check(r.returncode == 0, f"report: {r.returncode} {r.stderr}")
    check("Attempts: 6  OK: 4  failed: 2" in r.stdout, f"report totals: {r.stdout}")
    check("RP_ERR_NO_DEVICE" in r.stdout and "1-1.4" in r.stdout, "failures by reason and ports")

    r = run(["report", "--db", db, "--csv"])
    rows = list(csv.reader(io.StringIO(r.stdout)))
    check(rows[0] == ["section", "station", "item", "metric", "value"], "CSV header")
    values = {(s, i, m): v for s, _station, i, m, v in rows[1:]}
    check(values.get(("total", "", "attempts")) == "6", "CSV attempts")
    check(values.get(("total", "", "failed")) == "2", "CSV failed")
    check(values.get(("port", "1-1.2", "failed")) == "1", "CSV per port")

    r = run(["report", "--db", db, "--json"])
    j = json.loads(r.stdout)
    check(j["attempts"] == 6 and j["ok"] == 4 and len(j["ports"]) == 6, f"JSON report: {j}")
    check(sum(f["count"] for f in j["failures"]) == 2, "JSON failures")

    r = run(["report", "--db", db, "--since", "2999-01-01", "--json"])
    check(json.loads(r.stdout)["attempts"] == 0, "--since in the future: nothing")
    r = run(["report", "--db", db, "--since", str(int(time.time()) - 3600), "--json"])
    check(json.loads(r.stdout)["attempts"] == 6, "--since an hour ago: everything")
    r = run(["report", "--db", db, "--since", "last tuesday"])
    check(r.returncode == 64, f"bad --since: 64, got {r.returncode}")
    r = run(["report", "--db", os.path.join(tmp, "none.db")])
    check(r.returncode == 66, f"missing database: 66, got {r.returncode}")


def test_filter_aliases(tmp):
    """--port/--serial (repeatable) beside --ports/--serials, and --sim-timing
    zero beside fast: the same options as flash and boot."""
    r = run(["station", "--simulate", "4", "--plain", "--port", "1-1.1", "--port", "1-1.3",
             "--sim-timing", "zero"] + payload_args(), timeout=30)
    check(r.returncode == 0, f"--port twice: exit 0, got {r.returncode}: {r.stderr}")
    check("2 attempts: 2 OK" in r.stderr, f"--port twice: the two boards only: {r.stderr!r}")
    check(" 1-1.3 " in r.stdout and "1-1.2 ignored" in r.stdout, f"--port: {r.stdout!r}")
    # A boot ROM's serial string (F2, F3) is matched by --serial: only the
    # board with that serial is taken, the other is ignored and said to be.
    r = run(["station", "--simulate", "2", "--plain", "--serial", "100000005eed0002",
             "--serials", "100000005eed0004,5eed0009", "--sim-timing", "fast", "--count", "1",
             "--idle-timeout", "1"] + payload_args(), timeout=30)
    check(r.returncode == 0 and "1-1.1 ignored" in r.stdout and " 1-1.2 5eed0002 OK" in r.stdout,
          f"--serial with --serials: {r.returncode} {r.stdout!r} {r.stderr!r}")
    r = run(["station", "--simulate", "2", "--serials", "100000005eed0009"] + payload_args())
    check(r.returncode == 64 and "no simulated board matches" in r.stderr,
          f"--serials and simulated boards: {r.returncode} {r.stderr!r}")
    r = run(["station", "--simulate", "2", "--ports", "1-1.9"] + payload_args())
    check(r.returncode == 64 and "no simulated board matches" in r.stderr,
          f"a filter no simulated board passes: {r.returncode} {r.stderr!r}")
    r = run(["station", "--simulate", "2", "--sim-timing", "slow"] + payload_args())
    check(r.returncode == 64 and "zero (or fast) or realistic" in r.stderr,
          f"bad --sim-timing: {r.returncode} {r.stderr!r}")
    r = run(["station", "--help"])
    for text in ("--port GLOB: one (repeatable)", "--serial S: one (repeatable)",
                 "zero|fast (default) or realistic"):
        check(text in r.stdout, f"--help mentions {text!r}")


def test_blocked_stdout(tmp):
    """A stdout nobody reads must not hold up the boards. The pipe is full
    before the station starts and is read only after 8 s, past the 3 s
    board timeout (loose enough for a loaded 2-core machine, which made
    1 s flaky): every board must still end OK, every finished event must
    come out, and progress events are what gets left out."""
    import fcntl
    meta = os.path.join(tmp, "blocked-meta")
    rfd, wfd = os.pipe()
    flags = fcntl.fcntl(wfd, fcntl.F_GETFL)
    fcntl.fcntl(wfd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    filled = 0
    try:
        while True:
            filled += os.write(wfd, b"x" * 4096)
    except BlockingIOError:
        pass
    fcntl.fcntl(wfd, fcntl.F_SETFL, flags)
    n = 64
    p = subprocess.Popen([RPIPROV, "station", "--simulate", str(n), "--json", "--board-timeout", "3",
                          "--metadata-dir", meta] + payload_args(),
                         stdout=wfd, stderr=subprocess.PIPE)
    os.close(wfd)
    time.sleep(8)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    try:
        err = p.communicate(timeout=60)[1].decode()
    except subprocess.TimeoutExpired:
        p.kill()
        err = p.communicate()[1].decode()
    check(p.returncode == 0, f"blocked stdout: exit 0, got {p.returncode}: {err}")
    events = [json.loads(l) for l in data[filled:].decode().splitlines()]
    fin = [e for e in events if e["event"] == "finished"]
    check(len(fin) == n, f"blocked stdout: every finished event ({len(fin)}/{n})")
    check(all(e["record"]["result"] == "OK" for e in fin),
          f"blocked stdout: every board OK: {[e['record']['result'] for e in fin]}")
    progress = sum(e["event"] == "progress" for e in events)
    check("progress line" in err and "left out" in err, f"blocked stdout: says what it left out: {err!r}")
    check(progress < 10 * n, f"blocked stdout: progress events left out ({progress})")
    check(os.path.isdir(meta) and len(os.listdir(meta)) == n, "blocked stdout: metadata file per board")


def main():
    if not RPIPROV:
        print("RPIPROV_BIN not set", file=sys.stderr)
        return 1
    if not FW:
        return skip_all("RPIPROV_TEST_FIRMWARE not set")
    with tempfile.TemporaryDirectory(prefix="rpiprov-station-cli-") as tmp:
        case("config errors", test_config_errors, tmp)
        case("SIGTERM mid-tray", test_sigterm, tmp, twice=False)
        case("second signal aborts", test_sigterm, tmp, twice=True)
        case("SIGHUP (terminal closed) mid-tray: boards finish, recorded", test_sigterm, tmp, twice=False,
             sig=signal.SIGHUP)
        case("SIGQUIT mid-tray: boards finish, recorded", test_sigterm, tmp, twice=False, sig=signal.SIGQUIT)
        case("SIGUSR1/SIGUSR2 mid-tray: ignored", test_ignored_signals, tmp)
        case("--json events", test_json_events, tmp)
        case("report text, CSV and JSON", test_report, tmp)
        case("filter aliases", test_filter_aliases, tmp)
        case("blocked stdout", test_blocked_stdout, tmp)
    return done()


if __name__ == "__main__":
    sys.exit(main())
