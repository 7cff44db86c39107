#!/usr/bin/env python3
"""The README's commands on a fresh machine: no ../shared, no firmware
installed, fetched or configured (every search place relocated into an
empty scratch folder). Simulations run on the labelled synthetic image;
real boards and `prepare` never get it, and say how to get firmware.
Also: a station serving a mixed tray (CM4 and CM5) without --soc."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done  # noqa: E402

BIN = os.environ["RPIPROV_BIN"]
FIRMWARE = os.environ.get("RPIPROV_TEST_FIRMWARE", "")


def fresh_env(tmp):
    env = {k: v for k, v in os.environ.items()
           if k not in ("RPIPROV_FIRMWARE_DIR", "FIRMWARE_ROOT", "FIRMWARE_RELEASE_STATUS",
                        "RPIPROV_FIRMWARE_URL", "RPIPROV_TEST_FIRMWARE")}
    env.update(HOME=os.path.join(tmp, "home"), XDG_CACHE_HOME=os.path.join(tmp, "cache"),
               RPIPROV_SYSROOT=os.path.join(tmp, "sysroot"))
    return env


def run(args, env, cwd, timeout=90):
    return subprocess.run([BIN] + args, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_station_readme_example():
    """README: rpiprov station --simulate 16 --sim-timing realistic --sim-fault leave@image:3"""
    with tempfile.TemporaryDirectory() as tmp:
        p = run(["station", "--simulate", "16", "--sim-timing", "realistic", "--sim-fault",
                 "leave@image:3", "--report", "r.jsonl"], fresh_env(tmp), tmp)
        # it runs: board 3 fails as the fault says, the rest are OK
        check(p.returncode == 1, f"exit {p.returncode}: {p.stderr}")
        check("synthetic BCM2711 image" in p.stderr, p.stderr)
        lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
        check(lines and all(ln.startswith("[synthetic] ") for ln in lines), p.stdout)
        recs = records(os.path.join(tmp, "r.jsonl"))
        check(len(recs) == 16, f"{len(recs)} records")
        check(all(r["run_id"].startswith("synthetic-") for r in recs), str(recs[:1]))
        check(sum(r["result"] == "OK" for r in recs) == 15, str([r["result"] for r in recs]))


def test_flash_simulate():
    """tools/provision's fallback: rpiprov flash --profile netboot --simulate 4"""
    with tempfile.TemporaryDirectory() as tmp:
        p = run(["flash", "--profile", "netboot", "--simulate", "4", "--sim-soc", "2711,2712",
                 "--report", "r.jsonl", "--json"], fresh_env(tmp), tmp)
        check(p.returncode == 0, f"exit {p.returncode}: {p.stderr}")
        for soc in ("2711", "2712"):
            check(f"using image synthetic BCM{soc} image" in p.stderr, p.stderr)
        for line in p.stdout.splitlines():
            check(json.loads(line)["run_id"].startswith("synthetic-"), line)
        recs = records(os.path.join(tmp, "r.jsonl"))
        check(len(recs) == 4 and all(r["result"] == "OK" for r in recs), str(recs))
        check(all(r["run_id"].startswith("synthetic-") for r in recs), "record not marked")
        p = run(["flash", "--profile", "netboot", "--simulate", "2"], fresh_env(tmp), tmp)
        lines = [ln for ln in p.stdout.splitlines() if " OK " in ln]
        check(len(lines) == 2 and all("synthetic image" in ln for ln in lines), p.stdout)


def test_real_boards_never_synthetic():
    """Without --simulate there is no synthetic payload: a clear error that
    names the fetch command, before any USB is touched."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "station.conf"), "w") as f:
            f.write("[station]\n")
        for args in (["flash", "--profile", "netboot"],
                     ["station", "--count", "1", "--config", "station.conf"],
                     ["prepare", "-o", "out", "--profile", "netboot"]):
            p = run(args, fresh_env(tmp), tmp)
            # the station opens USB first: where there is none it stops there (69)
            if args[0] == "station" and p.returncode == 69:
                check("USB" in p.stderr, p.stderr)
                continue
            check(p.returncode == 66, f"{args}: exit {p.returncode}: {p.stderr}")
            check("rpiprov firmware fetch --soc 2711" in p.stderr, f"{args}: {p.stderr}")
            check("synthetic" not in p.stderr, f"{args}: {p.stderr}")
        check(not os.path.exists(os.path.join(tmp, "out")), "prepare wrote a directory")


def test_firmware_list_empty():
    with tempfile.TemporaryDirectory() as tmp:
        p = run(["firmware", "list"], fresh_env(tmp), tmp)
        check(p.returncode == 66, f"nothing found is not success: {p.returncode} {p.stderr}")
        check("no bootloader image or recovery.bin found" in p.stdout, p.stdout)
        check("rpiprov firmware fetch --soc 2712" in p.stdout, p.stdout)
        check("simulated boards get a synthetic image" in p.stdout, p.stdout)


def test_fetch_offline_names_a_mirror():
    """Without access to GitHub (a proxy that refuses), the error says how
    to use a mirror."""
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(tmp)
        env.update(https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", no_proxy="")
        p = run(["firmware", "fetch", "--soc", "2711"], env, tmp)
        check(p.returncode == 69, f"unavailable: {p.returncode} {p.stderr!r}")
        check("--base-url" in p.stderr and "RPIPROV_FIRMWARE_URL" in p.stderr,
              f"names --base-url and RPIPROV_FIRMWARE_URL: {p.stderr!r}")


def test_station_mixed_tray():
    """Mixed SoCs without flags: each simulated CM4 gets the 2711 image and
    each CM5 the 2712 image, in one station run."""
    if not FIRMWARE:
        print("# no firmware fixtures", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(tmp)
        env["RPIPROV_FIRMWARE_DIR"] = FIRMWARE
        p = run(["station", "--simulate", "4", "--sim-soc", "2711,2712", "--report", "r.jsonl"],
                env, tmp)
        check(p.returncode == 0, f"exit {p.returncode}: {p.stderr}")
        check("synthetic" not in p.stdout + p.stderr, p.stderr)
        recs = records(os.path.join(tmp, "r.jsonl"))
        by_soc = {}
        for r in recs:
            check(r["result"] == "OK", str(r))
            by_soc.setdefault(r["soc"], set()).add(r["served_sha256"])
        check(sorted(by_soc) == ["2711", "2712"], str(by_soc))
        check(all(len(v) == 1 for v in by_soc.values()), str(by_soc))
        check(by_soc.get("2711") != by_soc.get("2712"), "both SoCs got the same image")


def main():
    case("README station --simulate 16 example runs (synthetic)", test_station_readme_example)
    case("flash --simulate: synthetic, said on every line and record", test_flash_simulate)
    case("real boards and prepare never get a synthetic image", test_real_boards_never_synthetic)
    case("firmware list with nothing found", test_firmware_list_empty)
    case("firmware fetch offline names a mirror", test_fetch_offline_names_a_mirror)
    case("station serves a mixed tray by USB id", test_station_mixed_tray)
    return done()


if __name__ == "__main__":
    sys.exit(main())
