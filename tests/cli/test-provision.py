#!/usr/bin/env python3
"""tools/provision, the README's first command (#19): it shows each step
and the build's own progress, and ends by saying where the program is,
what was written (BOOT_ORDER=0xf21, which image) and what a real board
needs next (the udev rules, the plugdev group, USB boot mode).

    test-provision.py BUILD_DIR"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done  # noqa: E402

SRC = os.environ["RPIPROV_SRCDIR"]
BUILD = sys.argv[1]


def test_provision():
    env = dict(os.environ, RPIPROV_BUILD_DIR=BUILD, RPIPROV_NO_DEPS="1")
    r = subprocess.run([os.path.join(SRC, "tools", "provision")], cwd=SRC, env=env, capture_output=True,
                       text=True, timeout=600)
    out = r.stdout
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr[-500:]!r}")
    for n in (1, 2, 3, 4):
        check(f"provision: [{n}/4]" in out, f"step {n} is shown: {out[:400]!r}")
    check("ninja" in out, "the build's own output is shown")
    check(f"program:  {BUILD}/src/cli/rpiprov" in out, f"where the program is: {out[-1500:]!r}")
    check("BOOT_ORDER=0xf21" in out and "  image:    " in out, "what was written, and which image")
    check("Next, for a real board:" in out and "USB boot mode" in out, "what to do next")
    check("60-rpiprov.rules" in out or os.path.exists("/etc/udev/rules.d/60-rpiprov.rules") or
          os.path.exists("/lib/udev/rules.d/60-rpiprov.rules"), "the udev rules, unless installed")


case("tools/provision shows its steps and ends with what to do next", test_provision)
sys.exit(done())
