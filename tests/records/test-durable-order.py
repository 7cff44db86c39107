#!/usr/bin/env python3
"""A board is shown finished only once its record is durable (#12: every
record is committed locally, with fsync, before the board is reported).

A station runs 64 simulated boards with --json; the reader SIGKILLs it the
moment it reads the first "finished" event. Every finished event it wrote
before dying (the first and whatever else was already in the pipe) must
name an attempt that the spool or the report file holds. Repeated, since
the window this closes was a few milliseconds wide."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_all  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
FW = os.environ.get("RPIPROV_TEST_FIRMWARE")
ROUNDS = 12


def payload_args():
    return ["--image", os.path.join(FW, "2711", "pieeprom-2022-04-26.bin"),
            "--recovery", os.path.join(FW, "2711", "recovery.bin")]


def kept(spool, report):
    have = set()
    if os.path.exists(spool):
        c = sqlite3.connect(spool)
        have |= {(r, int(a)) for r, a in c.execute("SELECT run_id, attempt_id FROM records")}
        c.close()
    if os.path.exists(report):
        with open(report) as f:
            for line in f:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue  # a torn last line is not a kept record
                have.add((o["run_id"], o["attempt_id"]))
    return have


def one_round(tmp, i):
    spool = os.path.join(tmp, f"spool-{i}.db")
    report = os.path.join(tmp, f"r-{i}.jsonl")
    p = subprocess.Popen([RPIPROV, "station", "--simulate", "64", "--sim-timing", "zero", "--json",
                          "--name", f"d{i}", "--spool", spool, "--report", report] + payload_args(),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    shown = []
    for line in p.stdout:
        e = json.loads(line)
        if e.get("event") == "finished":
            p.send_signal(signal.SIGKILL)
            shown.append((e["record"]["run_id"], e["record"]["attempt_id"]))
            break
    # Lines already in the pipe were shown too.
    for line in p.stdout:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") == "finished":
            shown.append((e["record"]["run_id"], e["record"]["attempt_id"]))
    p.wait()
    check(p.returncode == -signal.SIGKILL, f"round {i}: killed ({p.returncode})")
    if not check(shown, f"round {i}: a finished event was read"):
        return 0
    missing = set(shown) - kept(spool, report)
    check(not missing, f"round {i}: shown finished but not durable: {sorted(missing)} of {len(shown)}")
    return len(shown)


def test_rounds(tmp):
    n = sum(one_round(tmp, i) for i in range(ROUNDS))
    print(f"# {n} finished events read in {ROUNDS} rounds, each durable", flush=True)


def main():
    if not RPIPROV or not FW or not os.path.isdir(FW):
        return skip_all("firmware fixtures or RPIPROV_BIN missing")
    case("SIGKILL on the first finished event: every shown board is durable", test_rounds,
         tempfile.mkdtemp(prefix="rpiprov-durable-"))
    return done()


if __name__ == "__main__":
    sys.exit(main())
