#!/usr/bin/env python3
"""The station under systemd: with NOTIFY_SOCKET set it says READY=1
once it can take boards, STATUS= with the totals, STOPPING=1 on SIGTERM;
with stdout being journald's stream (JOURNAL_STREAM) its lines carry a syslog priority and no
timestamp of their own, and without it they do."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_all  # noqa: E402

RPIPROV = os.environ.get("RPIPROV_BIN")
FW = os.environ.get("RPIPROV_TEST_FIRMWARE")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def station(tmp, journal):
    args = [RPIPROV, "station", "--simulate", "3", "--count", "100", "--idle-timeout", "1h", "--plain",
            "--image", os.path.join(FW, "2711", "pieeprom-2022-04-26.bin"),
            "--recovery", os.path.join(FW, "2711", "recovery.bin")]
    sock_path = os.path.join(tmp, f"notify-{journal}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    r, w = os.pipe()
    st = os.fstat(w)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    if journal:
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    else:
        env.pop("JOURNAL_STREAM", None)
    proc = subprocess.Popen(args, stdout=w, stderr=subprocess.DEVNULL, env=env)
    os.close(w)
    messages = []
    sock.settimeout(1)
    deadline = time.monotonic() + 30
    # Wait for READY and a STATUS with the three boards done.
    while time.monotonic() < deadline:
        try:
            messages.append(sock.recv(4096).decode())
        except socket.timeout:
            continue
        if any("3 OK" in m for m in messages):
            break
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("STOPPING=1" in m for m in messages):
        try:
            messages.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
    proc.wait(timeout=30)
    out = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        out += chunk
    os.close(r)
    sock.close()
    return messages, out.decode().splitlines(), proc.returncode


def test_notify(tmp):
    messages, lines, code = station(tmp, journal=True)
    check(code == 0, f"exit 0: {code}")
    check(messages and "READY=1" in messages[0], f"READY=1 first: {messages[:1]}")
    check(any(re.search(r"STATUS=3 OK, 0 failed, 0 in progress", m) for m in messages), f"STATUS totals: {messages}")
    check(any("STOPPING=1" in m for m in messages), "STOPPING=1 on SIGTERM")
    check(lines and all(not ISO.match(l) for l in lines), f"journald: no timestamps: {lines[:2]}")
    # With the syslog priority journald reads (<6> information; #19).
    check(any(re.match(r"<6>1-1\.1 5eed0001 started", l) for l in lines), f"the lines themselves: {lines[:2]}")
    _, lines, _ = station(tmp, journal=False)
    check(lines and all(ISO.match(l) for l in lines), f"elsewhere: timestamps: {lines[:2]}")


def main():
    if not RPIPROV or not FW or not os.path.isdir(FW):
        return skip_all("RPIPROV_BIN or firmware fixtures missing")
    with tempfile.TemporaryDirectory() as tmp:
        case("sd_notify and journald", test_notify, tmp)
    return done()


if __name__ == "__main__":
    sys.exit(main())
