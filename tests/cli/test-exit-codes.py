#!/usr/bin/env python3
"""Exit codes the help promises (#19), on what a new user meets first:
a PostgreSQL server that cannot be reached is 69 (unavailable), a board
the device node's permissions refuse is 77 (fix the setup), and a board
that fails otherwise stays 1.

    test-exit-codes.py SYNTH_IMAGE_TOOL [RPIPROV_USB_EMU]"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_case  # noqa: E402

RPIPROV = os.environ["RPIPROV_BIN"]
SYNTH = sys.argv[1]
EMU = sys.argv[2] if len(sys.argv) > 2 else ""


def run(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def test_report_unreachable():
    # Port 9 on the loopback: nothing listens, the connection is refused.
    r = run([RPIPROV, "report", "--db", "postgresql://rpiprov@127.0.0.1:9/line"])
    check(r.returncode == 69 and "cannot connect" in r.stderr, f"unreachable server: {r.returncode} {r.stderr!r}")


def prepared(tmp):
    img, rec, out = (os.path.join(tmp, n) for n in ("img.bin", "recovery.bin", "prep"))
    check(run([SYNTH, img, "2711"]).returncode == 0, "synthetic image")
    with open(rec, "wb") as f:
        f.write(b"RECOVERY" * 512)
    r = run([RPIPROV, "prepare", "-q", "-o", out, "--image", img, "--recovery", rec])
    check(r.returncode == 0, f"prepare: {r.stderr!r}")
    return out


def test_board_refused_permission():
    with tempfile.TemporaryDirectory() as tmp:
        prep = prepared(tmp)
        r = run([EMU, "-n", "1", "-b", "1:deny", "--", RPIPROV, "flash", "-d", prep, "--count", "1",
                 "--timeout", "30"])
        check(r.returncode == 77 and "permission denied" in r.stdout + r.stderr,
              f"a board refused for permissions: {r.returncode} {r.stderr[-300:]!r}")


case("report: an unreachable PostgreSQL server is 69", test_report_unreachable)
if EMU:
    case("flash: a board refused for permissions is 77", test_board_refused_permission)
else:
    skip_case("flash: a board refused for permissions is 77", "built without umockdev (no USB emulator)")
sys.exit(done())
