#!/usr/bin/env python3
"""`rpiprov report` on a database holding extreme stored values (#10:
signed overflow in report arithmetic): times at both ends of int64,
INT64_MAX durations, a start after the end, values SQLite keeps as REAL or
TEXT in integer columns. The report must finish (text, CSV, JSON) with
sane, clamped output and no undefined behaviour: this test runs in the
ASan+UBSan build too, where UBSAN_OPTIONS has halt_on_error=1."""
import csv
import io
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_all  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
LOAD = sys.argv[1] if len(sys.argv) > 1 else None
MAX, MIN = 2**63 - 1, -2**63

# start, end, duration as stored (the sinks never write such rows: a
# corrupt, hand-edited or foreign-tool database does).
EXTREMES = [
    (MIN, MAX, MAX),
    (MAX, MAX, MAX),
    (MIN, MIN, MAX),
    (MAX, MIN, MIN),
    (0, -1, MIN),
    (-1, 1, 2),
    (1714550400000, 1714550404000, MAX),
    (MAX - 1, MAX, MAX),
]


def make_db(tmp):
    db = os.path.join(tmp, "extreme.db")
    lines = "".join(f"X\tr\t{i + 1}\ts{i % 3}\t1-1.{i % 2}\t{'OK' if i % 2 else 'FAILED'}\t"
                    f"{'-' if i % 2 else 'RP_ERR_VERIFY'}\t0\t1000\tm\n" for i in range(len(EXTREMES) + 2))
    r = subprocess.run([LOAD, db], input=lines, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("records-load: " + r.stderr)
    c = sqlite3.connect(db)
    for i, (s, e, d) in enumerate(EXTREMES):
        c.execute("UPDATE attempts SET start_ms = ?, end_ms = ?, duration_ms = ? WHERE attempt_id = ?",
                  (s, e, d, i + 1))
    # What SQLite's type affinity lets a foreign tool store in integer columns.
    c.execute("UPDATE attempts SET start_ms = 1e300, end_ms = -1e300, duration_ms = 'lots'"
              " WHERE attempt_id = ?", (len(EXTREMES) + 1,))
    c.execute("UPDATE attempts SET duration_ms = 9.9e18, end_ms = 'soon' WHERE attempt_id = ?",
              (len(EXTREMES) + 2,))
    c.commit()
    c.close()
    return db


def run(args):
    r = subprocess.run([RPIPROV] + args, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"{args}: exit {r.returncode} {r.stderr[-600:]!r}")
    check("runtime error" not in r.stderr and "Sanitizer" not in r.stderr, f"no UB: {r.stderr[-600:]!r}")
    return r


def test_extremes(tmp):
    db = make_db(tmp)
    n = len(EXTREMES) + 2
    r = run(["report", "--db", db])
    check(f"Attempts: {n}" in r.stdout, f"text report counts every attempt: {r.stdout[:400]!r}")
    j = json.loads(run(["report", "--db", db, "--json"]).stdout)
    check(j["attempts"] == n, f"JSON attempts {j['attempts']}")

    def finite(o, where="report"):
        if isinstance(o, float):
            check(math.isfinite(o) and o >= 0, f"{where}: {o} finite and not negative")
        elif isinstance(o, dict):
            for k, v in o.items():
                finite(v, f"{where}.{k}")
        elif isinstance(o, list):
            for i, v in enumerate(o):
                finite(v, f"{where}[{i}]")
    finite({k: v for k, v in j.items() if k not in ("first", "last")})
    check(j["first"] is None, f"a time no calendar can show is null, not garbage: {j['first']!r}")
    check(j["last"] is None or (len(j["last"]) == 24 and j["last"].endswith("Z")), f"last {j['last']!r}")
    check(all(h["hour"] is None or h["hour"].endswith(":00:00.000Z") for h in j["hours"]), "hours")
    check(0.0 <= j["yield"] <= 1.0, "yield in [0, 1]")
    rows = list(csv.reader(io.StringIO(run(["report", "--db", db, "--csv"]).stdout)))
    check(all(len(row) == 5 for row in rows), "CSV rows well formed")
    for since, until in (("0001-01-01", "9999-12-31T23:59:59Z"), ("0", "1")):
        run(["report", "--db", db, "--since", since, "--until", until, "--json"])


def main():
    if not RPIPROV or not LOAD:
        return skip_all("RPIPROV_BIN or the records-load helper missing")
    tmp = tempfile.mkdtemp(prefix="rpiprov-report-extreme-")
    case("extreme stored values: report finishes, clamped, no UB", test_extremes, tmp)
    return done()


if __name__ == "__main__":
    sys.exit(main())
