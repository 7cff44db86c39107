#!/usr/bin/env python3
"""The live view in a real terminal: `rpiprov station --simulate 8
--sim-timing realistic` inside a detached tmux session (a private tmux
server), captured repeatedly: the port rows appear, change as boards move
through their phases, are redrawn in place (one header, never scrolled),
and end with the right totals."""
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, failures, skip_all  # noqa: E402


def main():
    rpiprov = os.environ.get("RPIPROV_BIN")
    fw = os.environ.get("RPIPROV_TEST_FIRMWARE")
    tmux = shutil.which("tmux")
    if not tmux:
        return skip_all("tmux not installed (apt-get install tmux)")
    if not fw:
        return skip_all("RPIPROV_TEST_FIRMWARE not set")
    case("live view of 8 boards in tmux", check_liveview, rpiprov, fw, tmux)
    case("64 boards on a 40-line terminal, colour and NO_COLOR", check_tall_tray, rpiprov, fw, tmux)
    return done()


def check_liveview(rpiprov, fw, tmux):
    sock = f"rpiprov-test-{os.getpid()}"
    t = [tmux, "-L", sock, "-f", "/dev/null"]
    cmd = " ".join(shlex.quote(a) for a in [
        rpiprov, "station", "--simulate", "8", "--sim-timing", "realistic", "--sim-arrivals", "1500ms",
        "--sim-seed", "11", "--sim-fault", "stall@image:3",
        "--image", os.path.join(fw, "2711", "pieeprom-2022-04-26.bin"),
        "--recovery", os.path.join(fw, "2711", "recovery.bin")])
    env = dict(os.environ, TERM="xterm-256color")
    subprocess.run(t + ["new-session", "-d", "-s", "lv", "-x", "160", "-y", "40",
                        f"{cmd}; echo EXIT=$?; sleep 120"], check=True, env=env)
    captures = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            r = subprocess.run(t + ["capture-pane", "-p", "-t", "lv"], capture_output=True, text=True)
            captures.append(r.stdout)
            if "EXIT=" in r.stdout:
                break
            time.sleep(0.15)
    finally:
        subprocess.run(t + ["kill-server"], capture_output=True)

    check(captures and "EXIT=" in captures[-1], "the station finished inside tmux")
    row = re.compile(r"^(1-1\.\d+)\s+(\w+)\s+\[([#\- ]{20})\]\s+(\d+)%\s+(\S+)", re.M)
    phases_seen, frames_with_rows, distinct = set(), 0, set()
    for cap in captures:
        rows = row.findall(cap)
        if rows:
            frames_with_rows += 1
            distinct.add(tuple(rows))
        for r in rows:
            phases_seen.add(r[1])
        # Redrawn in place: one header per screen, whatever happened.
        check(cap.count("PORT ") <= 1, "one header on screen (redrawn, not scrolled)")
    check(frames_with_rows >= 3, f"rows seen in several captures ({frames_with_rows})")
    check(len(distinct) >= 3, f"the rows change between captures ({len(distinct)} different)")
    check(phases_seen & {"stage1", "reenum", "serve", "verify", "start"},
          f"boards seen in a phase: {phases_seen}")
    check("idle" in phases_seen, "boards seen done")

    final = captures[-1] if captures else ""
    rows = row.findall(final)
    check(len(rows) == 8, f"eight port rows at the end ({len(rows)})")
    check([r[0] for r in rows] == [f"1-1.{i}" for i in range(1, 9)], "rows in port order")
    check(all(r[1] == "idle" for r in rows), "every port idle at the end")
    check(re.search(r"ok 7\s+failed 1\s+in progress 0", final) is not None, "final totals: 7 OK, 1 failed")
    check("1-1.3" in final and re.search(r"^1-1\.3 .*last: FAILED", final, re.M) is not None,
          "board 3's row shows its failure")
    check("EXIT=1" in final, "exit status 1 (a board failed)")
    if failures():
        print("last capture:\n" + final, file=sys.stderr)


_sockets = itertools.count()


def run_in_tmux(tmux, args, env_extra, lines=40, cols=150):
    """Run rpiprov in a 150x40 tmux pane until it exits; the whole history
    (scrollback included) with escapes, and the last screen."""
    sock = f"rpiprov-test-{os.getpid()}-{next(_sockets)}"
    t = [tmux, "-L", sock, "-f", "/dev/null"]
    cmd = " ".join(shlex.quote(a) for a in args)
    env = dict(os.environ, TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    env.update(env_extra)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env_extra.items())
    subprocess.run(t + ["new-session", "-d", "-s", "lv", "-x", str(cols), "-y", str(lines),
                        f"env {exports} {cmd}; echo EXIT=$?; sleep 120"], check=True, env=env)
    try:
        deadline = time.monotonic() + 90
        screen = ""
        while time.monotonic() < deadline:
            screen = subprocess.run(t + ["capture-pane", "-p", "-t", "lv"], capture_output=True,
                                    text=True).stdout
            if "EXIT=" in screen:
                break
            time.sleep(0.2)
        history = subprocess.run(t + ["capture-pane", "-p", "-e", "-S", "-", "-t", "lv"],
                                 capture_output=True, text=True).stdout
    finally:
        subprocess.run(t + ["kill-server"], capture_output=True)
    return history, screen


def check_tall_tray(rpiprov, fw, tmux):
    args = [rpiprov, "station", "--simulate", "64", "--sim-arrivals", "2s",
            "--sim-fault", "write_protected:5", "--board-timeout", "2",
            "--image", os.path.join(fw, "2711", "pieeprom-2022-04-26.bin"),
            "--recovery", os.path.join(fw, "2711", "recovery.bin")]
    history, screen = run_in_tmux(tmux, args, {"NO_COLOR": ""})
    check("EXIT=1" in screen, "the tray ran to its end (board 5 failed)")
    # Every frame was redrawn in place: nothing went into the scrollback.
    check(history.count("PORT ") == 1, f"one header in the whole history ({history.count('PORT ')})")
    check(re.search(r"ok 63\s+failed 1\s+in progress 0", screen) is not None, "the totals stay visible")
    check("more ports not shown" in screen, "the left-out ports are counted")
    check(re.search(r"^1-1\.5 .*last: TIMEOUT", screen, re.M) is not None, "the failed board is shown")
    check(re.search(r"^\s+-> .*deadline", screen, re.M) is not None, "its reason on a detail line")
    check("\x1b[1;31mTIMEOUT" in history or "\x1b[1m\x1b[31mTIMEOUT" in history, "TIMEOUT in red")
    history, screen = run_in_tmux(tmux, args, {"NO_COLOR": "1"})
    check("EXIT=1" in screen and "TIMEOUT" in screen, "the same tray with NO_COLOR")
    check("[31m" not in history and "[32m" not in history, "NO_COLOR: no colour")


if __name__ == "__main__":
    sys.exit(main())
