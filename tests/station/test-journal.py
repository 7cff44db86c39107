#!/usr/bin/env python3
"""journald (#19): when stdout/stderr is the journal's stream (systemd sets
JOURNAL_STREAM to its device:inode), every line starts with a syslog
priority journald reads: <3> errors, <4> warnings and boards that did not
end OK, <6> the rest. `journalctl -p warning` then finds a FAILED board.
The journal here is the test's own socket, with JOURNAL_STREAM naming it;
on a pipe or a file nothing changes."""
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done  # noqa: E402

RPIPROV = os.environ["RPIPROV_BIN"]


def run_journal(args, tmp, stream=True):
    """Run with stdout and stderr on one socket (as journald's stream is);
    JOURNAL_STREAM names it, or (stream False) something else."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    st = os.fstat(theirs.fileno())
    env = dict(os.environ, RPIPROV_FIRMWARE_DIR=os.path.join(tmp, "none"),
               XDG_CACHE_HOME=os.path.join(tmp, "cache"),
               JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}" if stream else f"{st.st_dev}:{st.st_ino + 1}")
    p = subprocess.Popen([RPIPROV] + args, stdout=theirs, stderr=theirs, env=env, cwd=tmp)
    theirs.close()
    data = b""
    while True:
        chunk = ours.recv(65536)
        if not chunk:
            break
        data += chunk
    ours.close()
    p.wait(timeout=60)
    return p.returncode, data.decode("utf-8", "replace").splitlines()


def test_station_priorities():
    with tempfile.TemporaryDirectory() as tmp:
        rc, lines = run_journal(["station", "--simulate", "3", "--plain", "--sim-fault", "stall:2"], tmp)
        check(rc == 1, f"one board failed: {rc}")
        finished = [l for l in lines if " OK after " in l or "FAILED" in l]
        failed = [l for l in finished if "FAILED" in l]
        ok = [l for l in finished if " OK after " in l]
        check(len(failed) == 1 and failed[0].startswith("<4>"), f"a FAILED board is a warning: {failed}")
        check(len(ok) == 2 and all(l.startswith("<6>") for l in ok), f"an OK board is information: {ok}")
        check(all(l[:3] in ("<3>", "<4>", "<6>") for l in lines if l), f"every line has a priority: {lines}")
        rc, lines = run_journal(["station", "--simulate", "1", "--plain", "--image",
                                 os.path.join(tmp, "missing.bin")], tmp)
        errors = [l for l in lines if "error:" in l]
        check(rc == 66 and errors and all(l.startswith("<3>rpiprov: error:") for l in errors),
              f"an error is an error: {rc} {lines}")


def test_flash_priorities():
    with tempfile.TemporaryDirectory() as tmp:
        rc, lines = run_journal(["flash", "--simulate", "1", "--set", "BOOT_ORDR=1"], tmp)
        check(rc == 64 and any(l.startswith("<3>") and "BOOT_ORDR" in l for l in lines),
              f"flash's error: {rc} {lines}")
        rc, lines = run_journal(["flash", "--simulate", "2", "--sim-fault", "stall:2"], tmp)
        check(rc == 1 and any(l.startswith("<6>rpiprov: ") for l in lines), f"flash's notes: {lines}")
        check(any(l.startswith("<4>5eed0002") and "FAILED" in l for l in lines), f"flash's failed board: {lines}")
        check(any(l.startswith("<6>5eed0001") and " OK " in l for l in lines), f"flash's OK board: {lines}")


def test_not_the_journal():
    with tempfile.TemporaryDirectory() as tmp:
        rc, lines = run_journal(["station", "--simulate", "2", "--plain", "--sim-fault", "stall:2"], tmp,
                                stream=False)
        check(rc == 1 and lines and not any(l.startswith("<") for l in lines),
              f"another stream: no priorities: {lines[:4]}")


case("station: <4> for a failed board, <6> OK, <3> errors", test_station_priorities)
case("flash: <3> errors, <6> notes", test_flash_priorities)
case("not the journal: lines as they were", test_not_the_journal)
sys.exit(done())
