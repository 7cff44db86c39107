#!/usr/bin/env python3
"""What real boards and real folders do that the host must take (issue:
hardware truth II), through the CLI against simulated boards:
- usbboot's own folders link bootcode4.bin to ../firmware/...: served;
- a folder with images of both chips and one CM4 recovery.bin never sends
  it to a CM5: the CM5 is refused at start and fails at once, naming
  'rpiprov firmware fetch --soc 2712', while the CM4 is written;
- a CM5 folder whose bootcode5.bin is really a CM4 recovery.bin (boot -d)."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ["RPIPROV_SRCDIR"], "tests"))
from taplib import case, check, done, skip_case  # noqa: E402

RPIPROV = os.environ["RPIPROV_BIN"]
FW = os.environ.get("RPIPROV_TEST_FIRMWARE", "")
EMU = sys.argv[1] if len(sys.argv) > 1 else ""


def run(args, cwd=None, timeout=120):
    env = dict(os.environ, RPIPROV_FIRMWARE_DIR="/nonexistent", XDG_CACHE_HOME="/nonexistent",
               FIRMWARE_ROOT="/nonexistent", NO_COLOR="1")
    return subprocess.run([RPIPROV] + args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def usbboot_recovery_folder(tmp):
    """usbboot's layout: recovery/ whose bootcode4.bin is a symlink to
    ../firmware/2711/recovery.bin (itself a symlink further out, as in a
    checkout with the rpi-eeprom submodule), plus a prepared image."""
    fw = os.path.join(tmp, "rpi-eeprom", "firmware-2711")
    os.makedirs(fw)
    shutil.copy(os.path.join(FW, "2711", "recovery.bin"), fw)
    os.makedirs(os.path.join(tmp, "firmware", "2711"))
    os.symlink("../../rpi-eeprom/firmware-2711/recovery.bin",
               os.path.join(tmp, "firmware", "2711", "recovery.bin"))
    rec = os.path.join(tmp, "recovery")
    p = run(["prepare", "-o", rec, "--image", os.path.join(FW, "2711", "pieeprom-2026-08-04.bin"),
             "--recovery", os.path.join(FW, "2711", "recovery.bin"), "--profile", "netboot"])
    check(p.returncode == 0, f"prepare: {p.stderr}")
    os.unlink(os.path.join(rec, "bootcode4.bin"))
    os.symlink("../firmware/2711/recovery.bin", os.path.join(rec, "bootcode4.bin"))
    return rec


def test_usbboot_symlinks():
    with tempfile.TemporaryDirectory() as tmp:
        rec = usbboot_recovery_folder(tmp)
        p = run(["boot", "-d", rec, "--simulate", "1"])
        check(p.returncode == 0, f"boot -d usbboot-style folder: exit {p.returncode}: {p.stdout}{p.stderr}")
        check("1 board" in p.stdout and "1 verified OK" in p.stdout, p.stdout)
        # A folder symlinked out of the tree is still refused.
        os.symlink("/etc", os.path.join(rec, "2711"))
        shutil.copy(os.path.join(rec, "config.txt"), os.path.join(tmp, "c.txt"))
        p = run(["boot", "-d", rec, "--simulate", "1"])
        check(p.returncode == 0, f"/etc has no bootcode4.bin: the top one is used: {p.stderr}")


def test_flat_folder_two_chips():
    with tempfile.TemporaryDirectory() as tmp:
        flat = os.path.join(tmp, "flat")
        os.makedirs(flat)
        shutil.copy(os.path.join(FW, "2711", "pieeprom-2026-08-04.bin"), flat)
        shutil.copy(os.path.join(FW, "2712", "pieeprom-2026-08-12.bin"), flat)
        shutil.copy(os.path.join(FW, "2711", "recovery.bin"), flat)
        p = run(["flash", "--image", flat, "--profile", "netboot", "--simulate", "2",
                 "--sim-soc", "2711,2712", "--board-timeout", "10s"])
        out = p.stdout + p.stderr
        check(p.returncode == 1, f"one board refused: exit {p.returncode}: {out}")
        check("BCM2712 boards will not be served" in p.stderr, p.stderr)
        check("rpiprov firmware fetch --soc 2712" in out, out)
        check("1 OK" in out and "1 failed" in out, out)
        lines = [ln for ln in p.stdout.splitlines() if "1-1.2" in ln]
        check(lines and "FAILED" in lines[0] and "firmware fetch --soc 2712" in lines[0], str(lines))
        # With the CM5's own recovery.bin in DIR/2712, --image DIR serves
        # both chips, as the search path does (it used to keep to one).
        os.makedirs(os.path.join(flat, "2712"))
        shutil.copy(os.path.join(FW, "2712", "recovery.bin"), os.path.join(flat, "2712"))
        p = run(["flash", "--image", flat, "--profile", "netboot", "--simulate", "2",
                 "--sim-soc", "2711,2712", "--board-timeout", "10s"])
        check(p.returncode == 0, f"both chips served: exit {p.returncode}: {p.stdout}{p.stderr}")
        check("2 boards: 2 OK" in p.stdout, p.stdout)


def test_wrong_chip_second_stage():
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "d")
        os.makedirs(d)
        shutil.copy(os.path.join(FW, "2711", "recovery.bin"), os.path.join(d, "bootcode5.bin"))
        p = run(["boot", "-d", d, "--simulate", "1", "--sim-soc", "2712"])
        out = p.stdout + p.stderr
        check(p.returncode == 1, f"exit {p.returncode}: {out}")
        check("BCM2711 recovery.bin" in out and "a BCM2712 board cannot run" in out, out)
        check("rpiprov firmware fetch --soc 2712" in out, out)


def old_recovery(path):
    """A stand-in for a recovery.bin of 2025-01: its banner, chip string,
    build date and the metadata it has (MAC_ADDR, no EEPROM_HASH), padded
    to a recovery.bin's size. No such build is in the fixtures."""
    text = (b"RPi: RECOVERY release DATE: 2025/01/01 vc_driver_sdram_init_2711 "
            b"*MAC_ADDR*%e *BOOT_ROM*%08x ")
    with open(path, "wb") as f:
        f.write(text + bytes((i * 7) & 0xff for i in range(98000)))


def test_unverified_through_usb():
    """A board whose recovery.bin (2024-08-14 .. 2025-11-21) sends metadata
    without EEPROM_HASH, through real libusb: UNVERIFIED and exit 0, said at
    start; FAILED and exit 1 with --require-verified."""
    with tempfile.TemporaryDirectory() as tmp:
        rec = os.path.join(tmp, "recovery.bin")
        old_recovery(rec)
        args = ["flash", "--image", os.path.join(FW, "2711", "pieeprom-2026-08-04.bin"),
                "--recovery", rec, "--profile", "netboot", "--board-timeout", "20s"]
        for strict in (False, True):
            cmd = [EMU, "-t", "60", "-n", "1", "-b", "1:firmware=20250101", "--", RPIPROV] + args
            if strict:
                cmd.append("--require-verified")
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, NO_COLOR="1"))
            out = p.stdout + p.stderr
            check("cannot report EEPROM_HASH" in p.stderr and "2025-01-01" in p.stderr,
                  f"said at start: {p.stderr}")
            check("rpiprov firmware fetch" in p.stderr, "names the way to a newer recovery.bin")
            if strict:
                check(p.returncode == 1, f"--require-verified: exit 1 (got {p.returncode}): {out}")
                check("FAILED" in p.stdout and "verified results required" in p.stdout, p.stdout)
            else:
                check(p.returncode == 0, f"UNVERIFIED exits 0 (got {p.returncode}): {out}")
                check("UNVERIFIED" in p.stdout and "1 written but unverified" in out, out)


def main():
    cases = [("usbboot's folders: file symlinks followed (boot -d)", test_usbboot_symlinks),
             ("flat folder, two chips, one CM4 recovery.bin: CM5 refused", test_flat_folder_two_chips),
             ("a CM4 recovery.bin named bootcode5.bin never reaches a CM5", test_wrong_chip_second_stage)]
    for name, fn in cases:
        if not FW or not os.path.isdir(FW):
            skip_case(name, "real firmware fixtures not found (RPIPROV_TEST_FIRMWARE)")
        else:
            case(name, fn)
    name = "an old recovery.bin through USB: UNVERIFIED, exit 0; --require-verified fails"
    if not EMU:
        skip_case(name, "built without umockdev: no USB emulator")
    elif not FW or not os.path.isdir(FW):
        skip_case(name, "real firmware fixtures not found (RPIPROV_TEST_FIRMWARE)")
    else:
        case(name, test_unverified_through_usb)
    return done()


if __name__ == "__main__":
    sys.exit(main())
