#!/usr/bin/env python3
"""rpiprov-station.service: systemd-analyze verify finds nothing to say,
the hardening directives the station relies on are present, and the
offline security score stays in the "OK" band."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, failures, skip_all  # noqa: E402


def main():
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        return skip_all("systemd-analyze not installed")
    src = os.environ.get("RPIPROV_SRCDIR")
    binary = os.environ.get("RPIPROV_BIN")
    if not src or not binary:
        print("RPIPROV_SRCDIR / RPIPROV_BIN not set", file=sys.stderr)
        return 1
    case("station unit", check_unit, analyze, src, binary)
    return done()


def check_unit(analyze, src, binary):
    template = open(os.path.join(src, "udev", "rpiprov-station.service.in")).read()
    check(template.count("@bindir@") == 1, "one @bindir@ placeholder")
    unit = template.replace("@bindir@", os.path.dirname(os.path.abspath(binary)))
    check(not re.search(r"@[A-Za-z_]+@", unit), "no placeholder left after substitution")

    directives = {}
    section = None
    for line in unit.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        key, _, value = line.partition("=")
        directives.setdefault((section, key), []).append(value)

    def want(section, key, value):
        got = directives.get((section, key), [])
        check(value in got, f"[{section}] {key}={value} (have {got})")

    exec_start = directives.get(("Service", "ExecStart"), [""])[0]
    check(exec_start.endswith("/rpiprov station --config /etc/rpiprov/station.conf"),
          f"ExecStart runs the station with its config: {exec_start}")
    want("Service", "Type", "notify")
    want("Service", "NotifyAccess", "main")
    want("Service", "DynamicUser", "yes")
    want("Service", "SupplementaryGroups", "plugdev")
    want("Service", "Restart", "on-failure")
    want("Service", "NoNewPrivileges", "yes")
    want("Service", "ProtectSystem", "strict")
    want("Service", "StateDirectory", "rpiprov")
    want("Service", "PrivateTmp", "yes")
    want("Service", "DevicePolicy", "closed")
    want("Service", "DeviceAllow", "char-usb_device rw")
    want("Service", "StandardOutput", "journal")
    want("Service", "KillSignal", "SIGTERM")
    # Network: uevents, journald/sd_notify, and TCP for the dashboard and a
    # PostgreSQL server, limited to the loopback unless a drop-in widens it.
    families = " ".join(directives.get(("Service", "RestrictAddressFamilies"), [])).split()
    for family in ("AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"):
        check(family in families, f"RestrictAddressFamilies allows {family} ({families})")
    want("Service", "IPAddressDeny", "any")
    want("Service", "IPAddressAllow", "localhost")
    # Hotplug needs the host's uevent netlink socket and /dev/bus/usb.
    check(("Service", "PrivateNetwork") not in directives, "no PrivateNetwork (breaks uevents)")
    check(("Service", "PrivateDevices") not in directives, "no PrivateDevices (hides /dev/bus/usb)")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rpiprov-station.service")
        with open(path, "w") as f:
            f.write(unit)
        r = subprocess.run([analyze, "verify", path], capture_output=True, text=True)
        out = (r.stdout + r.stderr).strip()
        # verify exits 0 on unknown keys too: any output is a finding.
        lines = [l for l in out.splitlines() if l.strip()]
        check(r.returncode == 0, f"systemd-analyze verify exit status {r.returncode}")
        check(not lines, "systemd-analyze verify is silent, said:\n" + out)

        r = subprocess.run([analyze, "security", "--offline=true", "--threshold=30", path],
                           capture_output=True, text=True)
        if "Unknown option" in r.stderr or "unrecognized option" in r.stderr:
            print("systemd-analyze security --offline not supported here", file=sys.stderr)
        else:
            score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
            print(score.group(0) if score else r.stdout[-300:], file=sys.stderr)
            check(r.returncode == 0, "security exposure at most 3.0")


if __name__ == "__main__":
    sys.exit(main())
