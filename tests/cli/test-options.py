#!/usr/bin/env python3
"""One command line (issue #13): a short option means the same in every
command, except where a command copies a tool users script against
(rpiboot, rpi-eeprom-digest, rpi-eeprom-config), and then only the letters
listed here; -q, -v and --debug work for every command, before or after
its name; an error is said once; eeprom takes rpi-eeprom-config's command
line."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done  # noqa: E402

RPIPROV = os.environ["RPIPROV_BIN"]
FIRMWARE = os.environ.get("RPIPROV_TEST_FIRMWARE", "")
# Writes a synthetic 2711 image when no real firmware is at hand (a fresh clone).
SYNTH_TOOL = sys.argv[1] if len(sys.argv) > 1 else ""

COMMANDS = ["flash", "prepare", "station", "digest", "report", "list", "firmware", "eeprom", "boot"]
# Long names that are one option under two names in different commands.
SAME = {"boot-config": "config"}
# Letters a command keeps from the tool it copies, with that tool's meaning.
COMPAT = {("digest", "i"), ("digest", "v"), ("boot", "p"), ("boot", "i"), ("boot", "o"),
          ("boot", "j"), ("boot", "d"), ("eeprom", "d")}


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([RPIPROV] + args, capture_output=True, text=True, env=e, timeout=120)


def help_letters(cmd):
    out = run([cmd, "--help"]).stdout
    return [(m.group(1), SAME.get(m.group(2), m.group(2)))
            for m in re.finditer(r"^\s+-(\w), --([a-z][a-z0-9-]*)", out, re.M)]


def test_one_meaning():
    seen = {}
    for cmd in COMMANDS:
        letters = help_letters(cmd)
        check(letters or cmd in ("firmware", "eeprom", "boot"), f"{cmd} --help lists no short options")
        mine = {}
        for letter, long in letters:
            check(mine.setdefault(letter, long) == long, f"{cmd}: -{letter} is both --{mine[letter]} and --{long}")
            if (cmd, letter) in COMPAT:
                continue
            first = seen.setdefault(letter, (cmd, long))
            check(first[1] == long,
                  f"-{letter} is --{first[1]} in {first[0]} but --{long} in {cmd}")
    # The letters the issue found with two meanings each.
    for letter, long in (("p", "pubkey"), ("c", "config"), ("t", "timestamp"), ("n", "count")):
        check(seen.get(letter, (None, long))[1] == long, f"-{letter} is not --{long}: {seen.get(letter)}")


def test_shorts_take_effect():
    # station's payload letters are prepare's: -P profile, -c boot.conf.
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "boot.conf")
        with open(conf, "w") as f:
            f.write("[all]\nBOOT_ORDER=0xf41\n")
        env = {"RPIPROV_FIRMWARE_DIR": FIRMWARE} if FIRMWARE else {}
        rep = os.path.join(tmp, "r.jsonl")
        r = run(["station", "--simulate", "1", "-c", conf, "-n", "1", "--report", rep, "--plain"], env)
        check(r.returncode == 0, f"station -c FILE -n 1: {r.returncode} {r.stderr}")
        r = run(["station", "--simulate", "1", "-P", "netboot", "-n", "1", "--plain"], env)
        check(r.returncode == 0, f"station -P netboot: {r.returncode} {r.stderr}")
        r = run(["station", "-f", os.path.join(tmp, "missing.conf"), "--simulate", "1"], env)
        check(r.returncode != 0 and "missing.conf" in r.stderr, f"station -f FILE: {r.stderr}")


def test_verbosity_everywhere():
    env = {"RPIPROV_FIRMWARE_DIR": FIRMWARE} if FIRMWARE else {}
    normal = run(["flash", "--simulate", "1", "--profile", "netboot"], env)
    check(normal.returncode == 0 and "rpiprov: using image" in normal.stderr, f"flash: {normal.stderr}")
    for args in (["-q", "flash"], ["flash", "-q"], ["flash", "--quiet"]):
        r = run(args + ["--simulate", "1", "--profile", "netboot"], env)
        check(r.returncode == 0 and "using image" not in r.stderr and "1 board: 1 OK" in r.stdout,
              f"{args}: {r.returncode} {r.stderr!r}")
    r = run(["-v", "flash", "--simulate", "1", "--profile", "netboot"], env)
    check("sent pieeprom.bin" in r.stderr + r.stdout, f"-v flash shows files sent: {r.stderr!r}")
    r = run(["station", "-q", "--simulate", "1", "--profile", "netboot", "--plain"], env)
    check(r.returncode == 0 and "serving" not in r.stderr and "1 attempt: 1 OK" in r.stderr,
          f"station -q: the result, not the notes: {r.stderr!r}")
    r = run(["eeprom", "info", "--debug", "/nonexistent.bin"])
    check(r.returncode == 66 and "[RP_ERR_NOT_FOUND]" in r.stderr, f"--debug names the code: {r.stderr!r}")
    r = run(["report", "-v", "--db", "/nonexistent.db"])
    check(r.returncode != 64, f"report takes -v: {r.stderr!r}")


def test_error_said_once():
    for args in (["digest", "-c", "2711"], ["flash", "--nope"], ["station", "-s", "X=1"], ["list", "-t", "1"]):
        r = run(args)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode == 64, f"{args}: exit {r.returncode}")
        check(len(lines) == 2 and lines[0].startswith(f"rpiprov {args[0]}: ") and
              lines[1] == f"Try 'rpiprov {args[0]} --help'.", f"{args}: {lines}")


def test_rpi_eeprom_config_line():
    with tempfile.TemporaryDirectory() as tmp:
        if FIRMWARE:
            img = os.path.join(FIRMWARE, "2711", "pieeprom-2022-04-26.bin")
        else:
            # A fresh clone has no real firmware: the same checks on a synthetic image.
            img = os.path.join(tmp, "synthetic.bin")
            r = subprocess.run([SYNTH_TOOL, img, "2711"], capture_output=True, text=True)
            if not check(r.returncode == 0, f"synth-image-tool: {r.stderr}"):
                return
        conf = os.path.join(tmp, "boot.conf")
        with open(conf, "w") as f:
            f.write("[all]\nBOOT_ORDER=0xf21\n")
        plain = run(["eeprom", img])
        check(plain.returncode == 0 and plain.stdout == run(["eeprom", "config", img]).stdout,
              "eeprom IMAGE prints the config like rpi-eeprom-config IMAGE")
        out = os.path.join(tmp, "conf.txt")
        r = run(["eeprom", "--out", out, img])
        check(r.returncode == 0 and open(out).read() == plain.stdout, "eeprom --out FILE IMAGE")
        new = os.path.join(tmp, "new.bin")
        r = run(["eeprom", "-c", conf, "-t", "1700000000", "--out", new, img])
        check(r.returncode == 0, f"eeprom -c -t --out: {r.stderr}")
        check(run(["eeprom", "config", new]).stdout == "[all]\nBOOT_ORDER=0xf21\n", "the new config is in")
        check("(ts 1700000000)" in run(["eeprom", "info", new]).stdout, "-t is the update timestamp")
        ref = os.path.join(tmp, "ref.bin")
        r = run(["eeprom", "set", img, "-o", ref, "--config", conf, "--timestamp", "1700000000"])
        check(r.returncode == 0 and open(ref, "rb").read() == open(new, "rb").read(),
              "rpi-eeprom-config's line and eeprom set make the same bytes")
        r = run(["eeprom", "--edit", img])
        check(r.returncode == 64 and "Pi this runs on" in r.stderr,
              f"--edit refused with the reason: {r.stderr!r}")


def test_did_you_mean():
    for typo, meant in (("flsh", "flash"), ("statoin", "station"), ("firmwre", "firmware"),
                        ("REPORT", "report"), ("lst", "list")):
        r = run([typo, "--simulate", "1"])
        check(r.returncode == 64 and f"unknown command '{typo}'" in r.stderr and
              f"Did you mean 'rpiprov {meant}'?" in r.stderr, f"{typo}: {r.returncode} {r.stderr!r}")
    r = run(["help", "flsh"])
    check(r.returncode == 64 and "Did you mean 'rpiprov flash'?" in r.stderr, f"help flsh: {r.stderr!r}")
    r = run(["frobnicate"])
    check(r.returncode == 64 and "Did you mean" not in r.stderr, f"nothing near: no guess: {r.stderr!r}")


def test_unknown_key():
    for cmd in (["flash", "--simulate", "1"], ["station", "--simulate", "1", "--plain"]):
        r = run(cmd + ["--set", "BOOT_ORDR=0xf21"])
        errors = [l for l in r.stderr.splitlines() if "BOOT_ORDR" in l]
        check(r.returncode == 64 and len(errors) == 1 and "did you mean BOOT_ORDER?" in errors[0] and
              "--force" in errors[0], f"{cmd[0]} --set BOOT_ORDR: {r.returncode} {r.stderr!r}")
        r = run(cmd + ["--set", "BOOT_ORDR=0xf21", "--force"])
        check(r.returncode == 0, f"{cmd[0]} --force writes it: {r.returncode} {r.stderr[-300:]!r}")
    r = run(["flash", "--simulate", "1", "--set", "userdata3=0x1234", "--set", "USB_MSD_LUN_TIMEOUT=2000"])
    check(r.returncode == 0, f"documented keys and families are fine: {r.stderr[-300:]!r}")


case("one meaning per short option", test_one_meaning)
case("a boot.conf key no bootloader knows is an error unless --force", test_unknown_key)
case("a mistyped command suggests the nearest", test_did_you_mean)
case("station takes the payload letters of prepare", test_shorts_take_effect)
case("-q, -v, --debug everywhere", test_verbosity_everywhere)
case("an error is said once", test_error_said_once)
case("eeprom takes rpi-eeprom-config's command line", test_rpi_eeprom_config_line)
sys.exit(done())
