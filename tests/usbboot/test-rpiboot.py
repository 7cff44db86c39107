#!/usr/bin/env python3
"""Upstream rpiboot against the emulated boards.

rpiboot is the host that works with real boards today, so every run here
checks the device model from the outside: rpiboot must end as it does with
a real board (exit 0, no "Failed ..." line), the emulator must record no
protocol error by the host (its report's host_error; it exits 1 on one),
and the board must end as a real one would (its EEPROM equal to the image
served, or the request chain of the second stage it was sent).

  test-rpiboot.py RPIPROV-USB-EMU WORKDIR USBBOOT-DIR

USBBOOT-DIR (../shared/usbboot) is copied into WORKDIR first: shared/ is
read-only, and its symlinks arrive as small text files holding the link
target, which the copy turns back into symlinks.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_all  # noqa: E402

EMU = sys.argv[1] if len(sys.argv) > 1 else ""
WORK = sys.argv[2] if len(sys.argv) > 2 else ""
USBBOOT = sys.argv[3] if len(sys.argv) > 3 else ""
RPIPROV = os.environ.get("RPIPROV_BIN", "")
IN_CI = bool(os.environ.get("CI"))
# Every run gets this long before the emulator kills rpiboot (exit 124).
RUN_TIMEOUT_S = 120
TS = "1700000000"


def skip_or_fail(reason):
    """Skip with a reason; under CI the suite must run, so fail instead."""
    if IN_CI:
        print(f"not ok 1 - rpiboot interop cannot run: {reason}")
        print("1..1")
        print(reason, file=sys.stderr)
        return 1
    return skip_all(reason)


# --- the copy ---------------------------------------------------------------

LINK_TEXT = re.compile(r"[A-Za-z0-9._+-]+(/[A-Za-z0-9._+-]+)*")


def text_link_target(path):
    """The relative link target a text file stands for, or None: the file
    holds one relative path and nothing else, and that path names an
    existing file beside the original."""
    if os.path.islink(path) or os.path.getsize(path) > 512:
        return None
    try:
        text = open(path, "rb").read().decode("ascii")
    except UnicodeDecodeError:
        return None
    target = text.strip()
    if "\n" in target or not LINK_TEXT.fullmatch(target) or not target.startswith(".."):
        # usbboot's links all climb out of their folder (../firmware/...).
        return None
    if not os.path.isfile(os.path.join(os.path.dirname(path), target)):
        return None
    return target


def copy_usbboot(dest_root):
    """Copy USBBOOT to dest_root/usbboot with its symlinks restored; the
    folders beside it (shared/firmware, which firmware/2711/recovery.bin
    links to as ../../../firmware/...) are linked beside the copy."""
    if os.path.exists(dest_root):
        shutil.rmtree(dest_root)
    dest = os.path.join(dest_root, os.path.basename(os.path.normpath(USBBOOT)))
    links = 0
    for dirpath, _dirs, files in os.walk(USBBOOT):
        rel = os.path.relpath(dirpath, USBBOOT)
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
        for f in files:
            src = os.path.join(dirpath, f)
            dst = os.path.join(dest, rel, f)
            target = os.readlink(src) if os.path.islink(src) else text_link_target(src)
            if target:
                os.symlink(target, dst)
                links += 1
            else:
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o755 if os.access(src, os.X_OK) else 0o644)
    parent = os.path.dirname(os.path.normpath(os.path.abspath(USBBOOT)))
    for name in os.listdir(parent):
        if name != os.path.basename(dest) and not os.path.exists(os.path.join(dest_root, name)):
            os.symlink(os.path.join(parent, name), os.path.join(dest_root, name))
    return dest, links


# --- running rpiboot under the emulator ----------------------------------------

def child_pids(pid):
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def run(tag, boards, rpiboot_args, expect_eeprom=None, stop_after_done=0, stop_on=None,
        prog=None):
    """Run rpiboot as the emulator's child. boards: the emulator's -b
    settings per board. stop_after_done: end rpiboot (SIGTERM, by its
    process id) once it printed "Second stage boot server done" this
    often (-l never ends by itself); stop_on: end it once a line contains
    this text. Returns (exit status, output, report rows)."""
    report = os.path.join(WORK, f"{tag}.report")
    cmd = [EMU, "-t", str(RUN_TIMEOUT_S), "-r", report, "-n", str(len(boards))]
    for i, b in enumerate(boards):
        if b:
            cmd += ["-b", f"{i + 1}:{b}"]
    if expect_eeprom:
        cmd += ["-e", expect_eeprom]
    cmd += ["--"] + (prog or [RPIBOOT]) + rpiboot_args
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         errors="replace")
    lines = []
    done_count = 0
    stopped = False
    for line in p.stdout:
        lines.append(line)
        if "Second stage boot server done" in line:
            done_count += 1
        want_stop = (stop_after_done and done_count >= stop_after_done) or \
            (stop_on and stop_on in line)
        if want_stop and not stopped:
            stopped = True
            # Let the board finish leaving, then end rpiboot (its own id).
            time.sleep(0.5)
            for c in child_pids(p.pid):
                os.kill(c, signal.SIGTERM)
    rc = p.wait()
    out = "".join(lines)
    rows = []
    if os.path.exists(report):
        with open(report) as f:
            rows = [json.loads(x) for x in f if x.strip()]
    print(f"# --- {tag}: exit {rc} ---", flush=True)
    for line in out.splitlines():
        print(f"#   {line}", flush=True)
    return rc, out, rows


def no_failures(out, rows):
    check("Failed" not in out, "rpiboot printed no 'Failed ...' line")
    for r in rows:
        check(r.get("host_error") is None,
              f"board {r.get('board')}: no host error (got {r.get('host_error')!r})")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --- prepared folders -------------------------------------------------------------

def prepare_folder(folder, soc):
    """Give usbboot's recovery folder what its update-pieeprom.sh would:
    pieeprom.bin from pieeprom.original.bin with the update timestamp in it,
    and pieeprom.sig. Made with `rpiprov prepare`, as a user would."""
    tmp = os.path.join(WORK, f"prepare-{soc}")
    shutil.rmtree(tmp, ignore_errors=True)
    r = subprocess.run([RPIPROV, "prepare", "-q", "-o", tmp, "--soc", soc,
                        "--image", os.path.join(folder, "pieeprom.original.bin"),
                        "--recovery", os.path.join(folder, "bootcode5.bin" if soc == "2712"
                                                   else "bootcode4.bin"),
                        "-t", TS],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"rpiprov prepare for {soc}: {r.stderr.strip()}")
    for name in ("pieeprom.bin", "pieeprom.sig"):
        shutil.copyfile(os.path.join(tmp, name), os.path.join(folder, name))
    return os.path.join(folder, "pieeprom.bin")


# --- cases ----------------------------------------------------------------------------

def test_copy():
    # The copy looks as upstream has it: the links are links, and they
    # reach the real binaries.
    for rel in ("recovery/bootcode4.bin", "recovery5/bootcode5.bin",
                "mass-storage-gadget64/bootfiles.bin", "msd/bootcode4.bin",
                "firmware/2711/recovery.bin", "firmware/2712/recovery.bin"):
        p = os.path.join(COPY, rel)
        check(os.path.islink(p), f"{rel} is a symlink in the copy")
        check(os.path.isfile(p) and os.path.getsize(p) > 10000,
              f"{rel} reaches a real file ({os.path.getsize(p) if os.path.exists(p) else 0} bytes)")
    check(not os.path.islink(os.path.join(COPY, "recovery/config.txt")),
          "recovery/config.txt stays a file")
    check(os.access(RPIBOOT, os.X_OK), "rpiboot built")


def test_cm4_recovery():
    folder = os.path.join(COPY, "recovery")
    image = prepare_folder(folder, "2711")
    rc, out, rows = run("cm4-recovery", [""], ["-d", folder], expect_eeprom=image)
    check(rc == 0, f"rpiboot and the emulator exit 0 (got {rc})")
    no_failures(out, rows)
    check("Second stage boot server done" in out, "the file server ended")
    check(len(rows) == 1 and rows[0]["outcome"] == "updated", f"board updated: {rows}")
    check(rows and rows[0].get("eeprom_matches") is True, "EEPROM equals the served pieeprom.bin")
    check(rows and rows[0]["second_stage"] == "recovery", "the ROM ran recovery.bin")
    check(rows and not rows[0]["present"], "the board left the bus after Done (F14, F17)")


def test_cm5_recovery5_json():
    folder = os.path.join(COPY, "recovery5")
    image = prepare_folder(folder, "2712")
    jdir = os.path.join(WORK, "metadata")
    shutil.rmtree(jdir, ignore_errors=True)
    os.makedirs(jdir)
    # The model's default recovery.bin generation: with EEPROM_UPDATE and
    # EEPROM_HASH (>= 2025-11-27), before the DDR requests of C19.
    rc, out, rows = run("cm5-recovery5-j", ["soc=2712"],
                        ["-j", jdir, "-d", folder], expect_eeprom=image)
    check(rc == 0, f"rpiboot and the emulator exit 0 (got {rc})")
    no_failures(out, rows)
    check(len(rows) == 1 and rows[0]["outcome"] == "updated", f"board updated: {rows}")
    check(rows and rows[0].get("eeprom_matches") is True, "EEPROM equals the served pieeprom.bin")
    files = os.listdir(jdir)
    check(len(files) == 1, f"one metadata file: {files}")
    if not files or not rows:
        return
    with open(os.path.join(jdir, files[0])) as f:
        text = f.read()
    try:
        meta = json.loads(text)
    except ValueError as e:
        check(False, f"metadata JSON parses: {e}: {text!r}")
        return
    check(meta.get("FACTORY_UUID") == rows[0]["factory_uuid"],
          f"rpiboot's C40 decoding of FACTORY_UUID ({meta.get('FACTORY_UUID')}) is the board's"
          f" ({rows[0]['factory_uuid']})")
    check(meta.get("EEPROM_UPDATE") == "success", f"EEPROM_UPDATE success: {meta}")
    check(meta.get("EEPROM_HASH") == rows[0]["eeprom_sha256"], "EEPROM_HASH is the EEPROM's")
    check(meta.get("USER_BOARDREV") == "c04180", "a CM5's board revision")
    check("EEPROM_ERASE" not in meta and "SECURE_BOOT_PROVISION" not in meta,
          "no erase/provision report when none was asked")


def test_cm5_c19_hang():
    # The newest recovery.bin generation asks mcb.bin after its metadata
    # and hangs when it is missing (C19); rpiboot then waits for ever, as
    # the C19 reporter's did. The EEPROM is written all the same.
    folder = os.path.join(COPY, "recovery5")
    image = os.path.join(folder, "pieeprom.bin")
    rc, out, rows = run("cm5-c19", ["soc=2712,firmware=20260812"], ["-d", folder],
                        expect_eeprom=image,
                        stop_on="Cannot open file mcb.bin")
    check("Cannot open file mcb.bin" in out, "mcb.bin asked after the metadata (C19)")
    check(rc == 128 + signal.SIGTERM, f"rpiboot still waiting, ended by the test (got {rc})")
    check(out.find("EEPROM_UPDATE") < out.find("mcb.bin"), "metadata before mcb.bin (C19)")
    no_failures(out, rows)
    check(rows and rows[0]["outcome"] == "updated" and rows[0].get("eeprom_matches") is True,
          f"EEPROM written: {rows}")
    check(rows and rows[0]["present"], "the hung board stays on the bus")


def test_loop_three():
    folder = os.path.join(COPY, "recovery")
    image = os.path.join(folder, "pieeprom.bin")
    rc, out, rows = run("cm4-loop-3", ["", "", ""], ["-l", "-d", folder], expect_eeprom=image,
                        stop_after_done=3)
    check(rc == 128 + signal.SIGTERM, f"rpiboot -l ended by the test (got {rc})")
    no_failures(out, rows)
    check(out.count("Second stage boot server done") == 3,
          f"three file-server sessions, not a loop on one board ({out.count('Second stage boot server done')})")
    check(len(rows) == 3, "three boards")
    for r in rows:
        check(r["outcome"] == "updated" and r.get("eeprom_matches") is True,
              f"board {r['board']} updated: {r['outcome']}")
        check(r["enumerations"] == 2, f"board {r['board']}: ROM then second stage once "
              f"({r['enumerations']} enumerations)")


def test_mass_storage_gadget():
    # bootfiles.bin's bootsys asks its DDR files, bootmain, config.txt and
    # boot.img. boot.img (the 30 MB gadget kernel) is not in the snapshot,
    # so rpiboot answers "Cannot open file boot.img": the model's bootsys
    # then leaves the bus (what bootmain does without boot.img is not in
    # the evidence), rpiboot ends normally, and the EEPROM is untouched.
    folder = os.path.join(COPY, "mass-storage-gadget64")
    for soc, n_memsys in (("2711", 9), ("2712", 4)):
        rc, out, rows = run(f"msg64-{soc}", [f"soc={soc}"], ["-d", folder])
        check(rc == 0, f"{soc}: rpiboot exits 0 (got {rc})")
        no_failures(out, rows)
        check(rows and rows[0]["second_stage"] == "bootsys", f"{soc}: bootsys recognised: {rows}")
        check(rows and rows[0]["outcome"] == "booted", f"{soc}: the bootsys chain ran")
        check(out.count("memsys") >= n_memsys, f"{soc}: {n_memsys} memsys files served (F15)")
        check("bootmain" in out and "Cannot open file boot.img" in out,
              f"{soc}: bootmain served, boot.img asked last")
        check("pieeprom" not in out, f"{soc}: the gadget never asks for pieeprom.*")
        if soc == "2712":
            check(out.find("rp1c0fw1.bin") < out.find("memsys02"), "RP1 firmware interleaved (F15)")


def test_msd_bootcode4():
    # usbboot's own bootcode4.bin (msd/) on a CM4: the F14 chain.
    folder = os.path.join(COPY, "msd")
    rc, out, rows = run("msd-cm4", [""], ["-d", folder])
    check(rc == 0, f"rpiboot exits 0 (got {rc})")
    no_failures(out, rows)
    check(rows and rows[0]["second_stage"] == "bootcode" and rows[0]["outcome"] == "booted",
          f"bootcode chain ran: {rows}")
    check("start4.elf" in out, "start4.elf served (F14)")


def test_hardware_faults():
    # What real boards did to rpiboot, replayed: rpiboot copes with each
    # and the board ends updated.
    folder = os.path.join(COPY, "recovery")
    image = os.path.join(folder, "pieeprom.bin")
    # C13: "Failed to claim interface" twice, then it works.
    rc, out, rows = run("claim-fails", ["fault=claim_fails"], ["-d", folder], expect_eeprom=image)
    check(rc == 0, f"claim_fails: exit 0 (got {rc})")
    check(out.count("Failed to claim interface") == 2, "claim_fails: two failed claims (C13)")
    check(rows and rows[0]["outcome"] == "updated" and rows[0]["host_error"] is None,
          f"claim_fails: updated: {rows}")
    # C11: a full-speed link, 64-byte bulk packets.
    rc, out, rows = run("full-speed", ["speed=full"], ["-d", folder], expect_eeprom=image)
    check(rc == 0 and "Failed" not in out, f"speed=full: clean run (exit {rc})")
    check(rows and rows[0]["outcome"] == "updated", f"speed=full: updated: {rows}")
    # C16/C17: found again as the ROM after stage 1; rpiboot sends it again.
    rc, out, rows = run("rom-again", ["fault=rom_again"], ["-d", folder], expect_eeprom=image)
    check(rc == 0 and "Failed" not in out, f"rom_again: clean run (exit {rc})")
    check(out.count("Sending bootcode.bin") == 2, "rom_again: stage 1 twice (C16, C17)")
    check(rows and rows[0]["outcome"] == "updated" and rows[0]["enumerations"] == 3,
          f"rom_again: ROM, ROM, second stage; updated: {rows}")
    # C13: the status read fails, the next header times out, then stage 1
    # works: exactly the lines of the C13 log, then a normal run.
    rc, out, rows = run("status-stuck", ["fault=status_stuck"], ["-d", folder],
                        expect_eeprom=image)
    check(rc == 0, f"status_stuck: exit 0 (got {rc})")
    check("Failed : 0x" in out and "Failed control transfer (-7,24)" in out,
          "status_stuck: C13's 'Failed : 0x0' then 'Failed control transfer (-7,24)'")
    check(rows and rows[0]["outcome"] == "updated" and rows[0]["host_error"] is None,
          f"status_stuck: updated: {rows}")


# --- rpiprov beside rpiboot ---------------------------------------------------------
# The same folders and boards, served by rpiprov through real libusb: where
# rpiboot succeeds, rpiprov must too, and say so with its exit status.

def rpiprov_run(tag, boards, args, expect_eeprom=None):
    rc, out, rows = run(tag, boards, args, expect_eeprom=expect_eeprom,
                        prog=[RPIPROV, "boot", "--timeout", "20s"])
    for r in rows:
        check(r.get("host_error") is None,
              f"{tag}: board {r.get('board')}: no host error (got {r.get('host_error')!r})")
    return rc, out, rows


def test_rpiprov_usbboot_folders():
    # usbboot's own folder, whose bootcode4.bin is a symlink out of it.
    folder = os.path.join(COPY, "recovery")
    image = os.path.join(folder, "pieeprom.bin")
    rc, out, rows = rpiprov_run("rpiprov-cm4-recovery", [""], ["-d", folder], expect_eeprom=image)
    check(rc == 0, f"rpiprov boot -d recovery: exit 0 (got {rc})")
    check("1 verified OK" in out, "the board verified OK")
    check(rows and rows[0]["outcome"] == "updated", f"updated: {rows}")
    # Three boards one after another, as rpiboot -l takes them.
    rc, out, rows = rpiprov_run("rpiprov-cm4-loop-3", ["", "", ""], ["-l", "-d", folder],
                                expect_eeprom=image)
    check(rc == 0, f"rpiprov boot -l: exit 0 once no board came (got {rc})")
    check("3 boards: 0 served, 3 verified OK" in out, "three boards verified")


def test_rpiprov_c19():
    # C19: EEPROM_UPDATE=success and the served image's hash, then mcb.bin
    # is missing and the board hangs. rpiboot waits for ever; rpiprov says
    # OK at once, the verdict being known.
    folder = os.path.join(COPY, "recovery5")
    image = os.path.join(folder, "pieeprom.bin")
    t0 = time.monotonic()
    rc, out, rows = rpiprov_run("rpiprov-cm5-c19", ["soc=2712,firmware=20260812"],
                                ["-d", folder], expect_eeprom=image)
    check(rc == 0, f"rpiprov boot: a confirmed CM5 that then hangs is OK (exit {rc})")
    check("1 verified OK" in out, "verified OK, not TIMEOUT")
    check(time.monotonic() - t0 < 15, "long before the board deadline")


def test_rpiprov_gadget():
    # The mass-storage gadget never asks for pieeprom.bin: SERVED, exit 0.
    folder = os.path.join(COPY, "mass-storage-gadget64")
    for soc in ("2711", "2712"):
        rc, out, rows = rpiprov_run(f"rpiprov-msg64-{soc}", [f"soc={soc}"], ["-d", folder])
        check(rc == 0, f"{soc}: rpiprov boot -d mass-storage-gadget64: exit 0 (got {rc})")
        check("1 served" in out and "SERVED" in out, f"{soc}: the board is SERVED")
        check(rows and rows[0]["outcome"] == "booted", f"{soc}: the bootsys chain ran")


def test_rpiprov_faults():
    # What real boards did to hosts, under rpiprov: each board ends OK.
    folder = os.path.join(COPY, "recovery")
    image = os.path.join(folder, "pieeprom.bin")
    for fault in ("fault=claim_fails", "speed=full", "fault=rom_again", "fault=status_stuck"):
        rc, out, rows = rpiprov_run(f"rpiprov-{fault}", [fault], ["-d", folder],
                                    expect_eeprom=image)
        check(rc == 0, f"{fault}: exit 0 (got {rc})")
        check("1 verified OK" in out, f"{fault}: verified OK")
        check(rows and rows[0]["outcome"] == "updated", f"{fault}: updated: {rows}")


def main():
    global COPY, RPIBOOT
    if not EMU or not WORK:
        return skip_or_fail("usage: test-rpiboot.py EMULATOR WORKDIR USBBOOT")
    if os.environ.get("MESON_EXE_WRAPPER"):
        # A cross build run under an emulator (tools/test-arm64): rpiboot is
        # built with the host's make and compiler, so it would be an amd64
        # child of the arm64 USB emulator, whose umockdev preload cannot
        # load into it. The native suite runs this; here it is a skip.
        return skip_all("cross build under an exe wrapper: upstream rpiboot would be built for "
                        "the build machine, not the target; the native suite runs this")
    if not USBBOOT or not os.path.isdir(USBBOOT):
        return skip_or_fail("upstream usbboot not found (../shared/usbboot beside the checkout)")
    if not shutil.which("make") or subprocess.run(["pkg-config", "--exists", "libusb-1.0"]).returncode:
        return skip_or_fail("make or libusb-1.0 development files missing: cannot build rpiboot")
    os.makedirs(WORK, exist_ok=True)
    COPY, links = copy_usbboot(os.path.join(WORK, "interop"))
    print(f"# copied {USBBOOT} with {links} symlinks restored", flush=True)
    b = subprocess.run(["make", "-C", COPY, "rpiboot"], capture_output=True, text=True)
    if b.returncode:
        print(b.stdout + b.stderr, file=sys.stderr)
    RPIBOOT = os.path.join(COPY, "rpiboot")
    case("the copy of usbboot has its symlinks; rpiboot builds", test_copy)
    if not os.access(RPIBOOT, os.X_OK):
        return done()
    case("CM4: rpiboot -d recovery flashes the EEPROM", test_cm4_recovery)
    case("CM5: rpiboot -j -d recovery5: EEPROM, metadata JSON, FACTORY_UUID", test_cm5_recovery5_json)
    case("CM5 C19: metadata, then mcb.bin missing: the board hangs", test_cm5_c19_hang)
    case("rpiboot -l with three CM4s flashes all three", test_loop_three)
    case("mass-storage-gadget64 (bootfiles.bin) on CM4 and CM5", test_mass_storage_gadget)
    case("msd bootcode4.bin on CM4 (F14)", test_msd_bootcode4)
    case("claim_fails, speed=full, rom_again, status_stuck under rpiboot", test_hardware_faults)
    case("rpiprov boot -d usbboot's recovery (symlinks), alone and -l with three", test_rpiprov_usbboot_folders)
    case("rpiprov: a CM5 confirmed then hanging (C19) is OK at once", test_rpiprov_c19)
    case("rpiprov boot -d mass-storage-gadget64: SERVED", test_rpiprov_gadget)
    case("rpiprov: claim_fails, speed=full, rom_again, status_stuck", test_rpiprov_faults)
    return done()


COPY = ""
RPIBOOT = ""

if __name__ == "__main__":
    sys.exit(main())
