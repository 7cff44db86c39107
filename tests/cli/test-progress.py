#!/usr/bin/env python3
"""`flash` between "waiting" and the verdict (#19): on a terminal, every
board's phase and progress on one line redrawn in place (erased before a
result line is written, gone at the end); otherwise a plain line per
phase in words; nothing with -q."""
import os
import pty
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done  # noqa: E402

RPIPROV = os.environ["RPIPROV_BIN"]


def env(tmp):
    e = dict(os.environ, TERM="xterm", RPIPROV_FIRMWARE_DIR=os.path.join(tmp, "none"),
             XDG_CACHE_HOME=os.path.join(tmp, "cache"))
    e.pop("NO_COLOR", None)
    return e


def test_plain_lines():
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([RPIPROV, "flash", "--simulate", "2"], capture_output=True, text=True,
                           env=env(tmp), timeout=60)
        check(r.returncode == 0, f"flash: {r.stderr!r}")
        for words in ("sending recovery.bin", "writing the EEPROM", "checking what the board wrote"):
            check(f"rpiprov: 1-1.1 5eed0001: {words}\n" in r.stderr, f"a plain line '{words}': {r.stderr!r}")
        check("\r" not in r.stderr and "\033[" not in r.stderr, "no terminal controls in a file")
        r = subprocess.run([RPIPROV, "flash", "-q", "--simulate", "2"], capture_output=True, text=True,
                           env=env(tmp), timeout=60)
        check(r.returncode == 0 and "writing the EEPROM" not in r.stderr, f"-q: none: {r.stderr!r}")


def test_terminal_line():
    with tempfile.TemporaryDirectory() as tmp:
        master, slave = pty.openpty()
        p = subprocess.Popen([RPIPROV, "flash", "--simulate", "2", "--sim-timing", "realistic"],
                             stdin=slave, stdout=slave, stderr=slave, env=env(tmp), close_fds=True)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        p.wait(timeout=30)
        os.close(master)
        text = out.decode("utf-8", "replace")
        check(p.returncode == 0, f"flash on a terminal: {p.returncode}")
        check("\r\033[K" in text, f"the line is redrawn in place: {text[-600:]!r}")
        # One redraw shows both boards, each with its phase in words.
        draws = text.split("\r\033[K")
        check(any("1-1.1 " in d and "1-1.2 " in d and " | " in d for d in draws),
              f"both boards on one line: {draws[:8]!r}")
        check(any("writing the EEPROM" in d for d in draws), "the EEPROM write shown as such")
        check(not any("rpiprov: 1-1.1 5eed0001: sending" in d for d in draws), "no plain phase lines")
        # A result line starts at the line's start (the status was erased first).
        results = [d for d in draws if " OK " in d and "5eed000" in d]
        check(results and results[0].startswith("5eed000"), f"result line after an erase: {results!r}")
        check("2 boards: 2 OK" in text, "the summary")
        tail = text[text.rfind("2 boards: 2 OK"):]
        check("writing" not in tail and "checking" not in tail, f"no status left after the summary: {tail!r}")


case("plain lines when not a terminal, nothing with -q", test_plain_lines)
case("one updating line on a terminal", test_terminal_line)
sys.exit(done())
