#!/usr/bin/env python3
"""Line-wide reports (#12): `rpiprov report --db postgresql://...` against a
real cluster (pg_cluster.py), and the same attempts in an SQLite file.

Known attempts from three stations (a serial passed at two stations, a
serial passed twice at one, one seen at two stations and passed once,
failures with different reasons and without a code, an attempt without a
serial) are loaded into both through the record sinks (records-load).
Every figure of the report, whole and for a --since/--until window, in
CSV and JSON, is checked against figures computed here from the attempts
themselves; and both backends must give the same report."""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import case, check, done, skip_all  # noqa: E402
import pg_cluster  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
LOAD = sys.argv[1] if len(sys.argv) > 1 else None  # the records-load helper
T0 = 1714550400000  # 2024-05-01T08:00:00Z
H = 3600000

# station, run, id, serial, port, result, code, start, end, message
ATTEMPTS = [
    ("A", "r1", 1, "s100", "1-1.1", "OK", "-", T0, T0 + 4000, ""),
    ("A", "r1", 2, "s101", "1-1.2", "FAILED", "RP_ERR_VERIFY", T0 + 10000, T0 + 12000, "hash mismatch"),
    ("A", "r1", 3, "s101", "1-1.2", "OK", "-", T0 + 20000, T0 + 26000, ""),
    ("A", "r1", 4, "s102", "1-1.1", "TIMEOUT", "RP_ERR_TIMEOUT", T0 + H, T0 + H + 120000, "no answer"),
    ("B", "r2", 1, "s200", "1-1.1", "OK", "-", T0 + 5000, T0 + 10000, ""),
    ("B", "r2", 2, "s101", "1-1.1", "OK", "-", T0 + H + 5000, T0 + H + 10000, ""),
    ("B", "r2", 3, "s201", "1-1.3", "FAILED", "RP_ERR_VERIFY", T0 + H + 100000, T0 + H + 102000,
     'hash mismatch, "quoted"'),
    ("B", "r2", 4, "s202", "1-1.3", "LEFT", "RP_ERR_NO_DEVICE", T0 + 2 * H, T0 + 2 * H + 500, "gone"),
    ("B", "r2", 5, "s203", "1-1.2", "UNVERIFIED", "-", T0 + H + 200000, T0 + H + 230000,
     "written, not confirmed"),
    ("C", "r3", 1, "s300", "1-1.1", "OK", "-", T0 + 2 * H + 100000, T0 + 2 * H + 103000, ""),
    ("C", "r3", 2, "s300", "1-1.1", "OK", "-", T0 + 2 * H + 200000, T0 + 2 * H + 203000, ""),
    ("C", "r3", 3, "s301", "1-1.2", "FAILED", "RP_ERR_VERIFY", T0 + 2 * H + 300000, T0 + 2 * H + 301000,
     "hash mismatch late"),
    ("A", "r1", 5, "s103", "1-1.1", "FAILED", "RP_ERR_IO", T0 + 2 * H + 400000, T0 + 2 * H + 400700, "usb io"),
    ("C", "r3", 4, "", "1-1.3", "LEFT", "RP_ERR_NO_DEVICE", T0 + 2 * H + 500000, T0 + 2 * H + 500100,
     "left early"),
    ("C", "r3", 5, "s201", "1-1.2", "OK", "-", T0 + 2 * H + 600000, T0 + 2 * H + 604000, ""),
    ("C", "r3", 6, "s302", "1-1.3", "FAILED", "-", T0 + 2 * H + 700000, T0 + 2 * H + 700500, "unknown"),
]
OK = ("OK", "SERVED")
FAIL = ("FAILED", "TIMEOUT", "LEFT")
WINDOW = (T0 + H, T0 + 2 * H + 200000)  # since, until: starts in [since, until)


def iso(ms):
    return datetime.fromtimestamp(ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + \
        f".{ms % 1000:03d}Z"


def totals(rows):
    ok = [r for r in rows if r[5] in OK]
    t = {"attempts": len(rows), "ok": len(ok), "failed": sum(r[5] in FAIL for r in rows),
         "unverified": sum(r[5] == "UNVERIFIED" for r in rows),
         "yield": len(ok) / len(rows) if rows else 0.0,
         "boards": len({r[3] for r in rows if r[3]}), "boards_ok": len({r[3] for r in ok if r[3]}),
         "mean_ms": sum(r[8] - r[7] for r in rows) / len(rows) if rows else 0.0,
         "first": iso(min(r[7] for r in rows)) if rows else None,
         "last": iso(max(r[8] for r in rows)) if rows else None}
    span = (max(r[8] for r in rows) - min(r[7] for r in rows)) if rows else 0
    t["boards_per_hour"] = len(ok) * 3600000.0 / span if span >= 1000 else 0.0
    return t


def counts(rows):
    n, k = len(rows), sum(r[5] in OK for r in rows)
    return {"attempts": n, "ok": k, "failed": sum(r[5] in FAIL for r in rows),
            "unverified": sum(r[5] == "UNVERIFIED" for r in rows), "yield": k / n if n else 0.0}


def expected(since=None, until=None):
    rows = [r for r in ATTEMPTS if (since is None or r[7] >= since) and (until is None or r[7] < until)]
    e = {"since": iso(since) if since is not None else None,
         "until": iso(until) if until is not None else None}
    e.update(totals(rows))
    e["stations"] = [dict(station=s, **totals([r for r in rows if r[0] == s]))
                     for s in sorted({r[0] for r in rows})]
    reasons = {}
    for r in rows:
        if r[5] in FAIL:
            reasons.setdefault((r[5], "" if r[6] == "-" else r[6]), []).append(r)
    e["failures"] = []
    for i, (key, rs) in enumerate(sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0][0], kv[0][1]))):
        e["failures"].append({"rank": i + 1, "result": key[0], "error_code": key[1] or None,
                              "count": len(rs), "example": max(rs, key=lambda r: r[8])[9]})
    e["ports"] = []
    for st, port in sorted({(r[0], r[4]) for r in rows}):
        rs = [r for r in rows if (r[0], r[4]) == (st, port)]
        oks = [r for r in rs if r[5] in OK]
        e["ports"].append(dict(station=st, port=port, **counts(rs),
                               mean_ms=sum(r[8] - r[7] for r in rs) / len(rs),
                               mean_ok_ms=sum(r[8] - r[7] for r in oks) / len(oks) if oks else 0.0))
    e["hours"] = [dict(hour=iso(h), **counts([r for r in rows if r[8] // H * H == h]))
                  for h in sorted({r[8] // H * H for r in rows})]
    e["serials"] = []
    for serial in sorted({r[3] for r in rows if r[3]}):
        rs = [r for r in rows if r[3] == serial]
        stations = sorted({r[0] for r in rs})
        passes = sum(r[5] in OK for r in rs)
        if len(stations) > 1 or passes > 1:
            e["serials"].append({
                "serial": serial,
                "stations": [{"station": s, "attempts": sum(r[0] == s for r in rs),
                              "ok": sum(r[0] == s and r[5] in OK for r in rs)} for s in stations],
                "attempts": len(rs), "ok": passes, "multi_station": len(stations) > 1,
                "passed_more_than_once": passes > 1})
    return e


def same(a, b, where=""):
    """Equal, numbers within 1e-9 relative, booleans only as booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return check(type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}")
    if isinstance(a, float) or isinstance(b, float):
        ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            abs(a - b) <= 1e-9 * max(1.0, abs(b))
        return check(ok, f"{where}: {a!r} != {b!r}")
    if isinstance(a, dict) and isinstance(b, dict):
        check(set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}")
        return all([same(a[k], b[k], f"{where}.{k}") for k in b if k in a])
    if isinstance(a, list) and isinstance(b, list):
        check(len(a) == len(b), f"{where}: {len(a)} items != {len(b)}")
        return all([same(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))])
    return check(type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}")


def report(db, fmt, *extra):
    r = subprocess.run([RPIPROV, "report", "--db", db, fmt] + list(extra), capture_output=True,
                       text=True, timeout=60, env=ENV)
    check(r.returncode == 0, f"report {fmt} {extra}: exit {r.returncode} {r.stderr!r}")
    return r.stdout


def window_args():
    return ["--since", iso(WINDOW[0]), "--until", str(WINDOW[1] // 1000)]


def check_json(db, window):
    e = expected(*WINDOW) if window else expected()
    j = json.loads(report(db, "--json", *(window_args() if window else [])))
    check(isinstance(j.pop("database"), str), "database named")
    check(j.pop("simulated_left_out", None) == 0, "no simulated boards among the loaded ones")
    same(j, e, "report")
    return j


def csv_expected(e):
    rows = [["section", "station", "item", "metric", "value"],
            ["window", "", "", "since", e["since"] or ""], ["window", "", "", "until", e["until"] or ""]]
    f = "{:.3f}".format

    def tot(section, station, t):
        return [[section, station, "", m, str(t[m])
                 if m in ("attempts", "ok", "failed", "unverified", "boards", "boards_ok")
                 else (t[m] or "") if m in ("first", "last") else f(t[m])]
                for m in ("attempts", "ok", "failed", "unverified", "yield", "boards", "boards_ok",
                          "mean_ms", "boards_per_hour", "first", "last")]

    def cnt(section, station, item, c):
        return [[section, station, item, "attempts", str(c["attempts"])],
                [section, station, item, "ok", str(c["ok"])],
                [section, station, item, "failed", str(c["failed"])],
                [section, station, item, "unverified", str(c["unverified"])],
                [section, station, item, "yield", f(c["yield"])]]
    rows += tot("total", "", e)
    for s in e["stations"]:
        rows += tot("station", s["station"], s)
    for r in e["failures"]:
        item = f"{r['result']}/{r['error_code'] or ''}"
        rows += [["reason", "", item, "rank", str(r["rank"])], ["reason", "", item, "count", str(r["count"])],
                 ["reason", "", item, "example", r["example"]]]
    for p in e["ports"]:
        rows += cnt("port", p["station"], p["port"], p)
        rows += [["port", p["station"], p["port"], "mean_ms", f(p["mean_ms"])],
                 ["port", p["station"], p["port"], "mean_ok_ms", f(p["mean_ok_ms"])]]
    for h in e["hours"]:
        rows += cnt("hour", "", h["hour"], h)
    for s in e["serials"]:
        rows += [["serial", "", s["serial"], "attempts", str(s["attempts"])],
                 ["serial", "", s["serial"], "ok", str(s["ok"])],
                 ["serial", "", s["serial"], "multi_station", str(s["multi_station"]).lower()],
                 ["serial", "", s["serial"], "passed_more_than_once",
                  str(s["passed_more_than_once"]).lower()]]
        for st in s["stations"]:
            rows += [["serial", st["station"], s["serial"], "attempts", str(st["attempts"])],
                     ["serial", st["station"], s["serial"], "ok", str(st["ok"])]]
    return rows


def check_csv(db, window):
    e = expected(*WINDOW) if window else expected()
    got = list(csv.reader(io.StringIO(report(db, "--csv", *(window_args() if window else [])))))
    want = csv_expected(e)
    check(len(got) == len(want), f"CSV rows: {len(got)} != {len(want)}")
    for g, w in zip(got, want):
        if not check(g == w, f"CSV row {g} != {w}"):
            break


def test_known_figures(db):
    e = expected()
    # A few figures by hand, so the expectation code cannot drift with the report.
    check([s["serial"] for s in e["serials"]] == ["s101", "s201", "s300"], "repeat serials")
    check(e["failures"][0]["error_code"] == "RP_ERR_VERIFY" and e["failures"][0]["count"] == 3, "top reason")
    check(e["attempts"] == 16 and e["ok"] == 7 and e["failed"] == 8 and e["unverified"] == 1, "totals")
    check(len(expected(*WINDOW)["stations"]) == 3 and expected(*WINDOW)["attempts"] == 6, "window")
    for window in (False, True):
        check_json(db, window)
        check_csv(db, window)


def test_backends_agree(pg_db, sqlite_db):
    for args in ([], window_args(), ["--since", "2999-01-01"]):
        a = json.loads(report(pg_db, "--json", *args))
        b = json.loads(report(sqlite_db, "--json", *args))
        a.pop("database")
        b.pop("database")
        same(a, b, f"postgres vs sqlite {args}")
        check(report(pg_db, "--csv", *args) == report(sqlite_db, "--csv", *args), f"same CSV {args}")
    text = subprocess.run([RPIPROV, "report", "--db", pg_db], capture_output=True, text=True, env=ENV)
    check(text.returncode == 0 and "Per station:" in text.stdout and "s101" in text.stdout,
          f"text report: {text.returncode} {text.stderr!r}")
    check(pg_cluster.PASSWORD not in text.stdout, "the password is never shown")


def test_empty_and_refusals(pg, tmp):
    pg.sql("CREATE DATABASE empty")
    r = subprocess.run([RPIPROV, "report", "--db", pg.conninfo("empty"), "--json"], capture_output=True,
                       text=True, env=ENV)
    check(r.returncode == 66 and "no rpiprov records" in r.stderr, f"no tables: {r.returncode} {r.stderr!r}")
    r = subprocess.run([RPIPROV, "report", "--db", pg.conninfo("nosuch"), "--json"], capture_output=True,
                       text=True, env=ENV)
    check(r.returncode == 66, f"no database: {r.returncode} {r.stderr!r}")
    r = subprocess.run([RPIPROV, "report", "--db", pg.conninfo("line") + " password=hunter2"],
                       capture_output=True, text=True, env=ENV)
    check(r.returncode == 64 and "hunter2" not in r.stderr, f"password refused: {r.returncode}")
    r = subprocess.run([RPIPROV, "report", "--db", pg.conninfo("line"), "--since", "2024-05-02",
                        "--until", "2024-05-01"], capture_output=True, text=True, env=ENV)
    check(r.returncode == 64, f"--until before --since: {r.returncode}")


def test_extremes(pg):
    """Extreme stored values in PostgreSQL (#10): the report finishes with
    clamped figures; in the ASan+UBSan build any overflow halts it."""
    mx, mn = 2**63 - 1, -2**63
    pg.sql("CREATE DATABASE extreme")
    lines = "".join(f"X\tr\t{i}\ts{i % 2}\t1-1.1\tOK\t-\t0\t1000\tm\n" for i in range(1, 6))
    r = subprocess.run([LOAD, pg.conninfo("extreme")], input=lines, capture_output=True, text=True, env=ENV)
    check(r.returncode == 0, f"load: {r.stderr!r}")
    for i, (st, en, du) in enumerate([(mn, mx, mx), (mx, mx, mx), (mn, mn, mx), (mx, mn, mn), (0, -1, mn)]):
        pg.sql(f"UPDATE rpiprov_attempts SET start_ms = {st}, end_ms = {en}, duration_ms = {du}"
               f" WHERE attempt_id = {i + 1}", "extreme")
    for fmt in ([], ["--csv"], ["--json"], ["--since", "0001-01-01", "--until", "9999-12-31", "--json"]):
        r = subprocess.run([RPIPROV, "report", "--db", pg.conninfo("extreme")] + fmt, capture_output=True,
                           text=True, env=ENV, timeout=60)
        check(r.returncode == 0 and "runtime error" not in r.stderr, f"{fmt}: {r.returncode} {r.stderr[-400:]!r}")
    j = json.loads(subprocess.run([RPIPROV, "report", "--db", pg.conninfo("extreme"), "--json"],
                                  capture_output=True, text=True, env=ENV).stdout)
    check(j["attempts"] == 5 and j["first"] is None and j["last"] is None, f"clamped: {j}")


ENV = None


def main():
    global ENV
    if not RPIPROV or not LOAD:
        return skip_all("RPIPROV_BIN or the records-load helper missing")
    try:
        with pg_cluster.PgCluster(port=54331) as pg:
            ENV = pg.env
            pg.sql("CREATE DATABASE line")
            tmp = tempfile.mkdtemp(prefix="rpiprov-report-line-")
            sqlite_db = os.path.join(tmp, "line.db")
            lines = "".join("\t".join(str(x) for x in a) + "\n" for a in ATTEMPTS)
            r = subprocess.run([LOAD, pg.conninfo("line"), sqlite_db], input=lines, capture_output=True,
                               text=True, env=ENV, timeout=60)
            if r.returncode != 0:
                raise RuntimeError("records-load: " + r.stderr)
            case("PostgreSQL: every figure, whole and windowed, JSON and CSV", test_known_figures,
                 pg.conninfo("line"))
            case("SQLite: every figure, whole and windowed, JSON and CSV", test_known_figures, sqlite_db)
            case("PostgreSQL and SQLite give the same report", test_backends_agree, pg.conninfo("line"),
                 sqlite_db)
            case("no rpiprov tables, no database, a password, a reversed window: refused",
                 test_empty_and_refusals, pg, tmp)
            case("extreme stored values: report finishes, clamped, no UB", test_extremes, pg)
    except pg_cluster.Skip as e:
        return skip_all(str(e))
    return done()


if __name__ == "__main__":
    sys.exit(main())
