#!/usr/bin/env python3
"""`rpiprov firmware fetch` with real libcurl against a local mirror
(mirror-server.py on 127.0.0.1, built from ../shared/firmware in the
upstream layout): a good fetch (files, manifest, then `flash --simulate`
uses the fetched image), and every fault leaving no file behind with a
clear exit status."""
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_all  # noqa: E402

BIN = os.environ["RPIPROV_BIN"]
FIRMWARE = os.environ.get("RPIPROV_TEST_FIRMWARE", "")


def fresh_env(tmp):
    """No firmware anywhere but what a test puts there."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RPIPROV_FIRMWARE_DIR", "FIRMWARE_ROOT", "FIRMWARE_RELEASE_STATUS",
                        "RPIPROV_FIRMWARE_URL")}
    env.update(HOME=os.path.join(tmp, "home"), XDG_CACHE_HOME=os.path.join(tmp, "cache"),
               RPIPROV_SYSROOT=os.path.join(tmp, "sysroot"))
    return env


def run(args, env, timeout=60):
    return subprocess.run([BIN] + args, env=env, capture_output=True, text=True, timeout=timeout)


def files_under(d):
    out = []
    for root, _, names in os.walk(d):
        out += [os.path.join(root, n) for n in names]
    return sorted(out)


def newest(soc, channel):
    names = sorted(n for n in os.listdir(os.path.join(FIRMWARE, soc)) if n.startswith("pieeprom-"))
    # the server's "default" lags "latest" by one release (mirror-server.py)
    return names[-1] if channel == "latest" or len(names) == 1 else names[-2]


def test_good_fetch(url):
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(tmp)
        p = run(["firmware", "fetch", "--base-url", url + "/ok"], env)
        check(p.returncode == 0, f"fetch exit {p.returncode}: {p.stderr}")
        for soc in ("2711", "2712"):
            d = os.path.join(tmp, "cache", "rpiprov", "firmware", soc, "default")
            name = newest(soc, "default")
            check(sorted(os.listdir(d)) == sorted([name, "recovery.bin", "manifest.json"]),
                  f"{d}: {os.listdir(d)}")
            with open(os.path.join(d, "manifest.json")) as f:
                m = json.load(f)
            check(m["soc"] == soc and m["channel"] == "default", str(m))
            for entry in m["files"]:
                with open(os.path.join(d, entry["name"]), "rb") as f:
                    data = f.read()
                with open(os.path.join(FIRMWARE, soc, entry["name"]), "rb") as f:
                    check(data == f.read(), f"{entry['name']} differs from the mirror's")
                check(entry["sha256"] == hashlib.sha256(data).hexdigest(), f"sha256 of {entry}")
                check(entry["url"] == f"{url}/ok/firmware-{soc}/default/{entry['name']}",
                      entry["url"])
                check(entry["size"] == len(data), str(entry))
        # the fetched image is what flash uses now, not a synthetic one
        p = run(["flash", "--simulate", "4", "--sim-soc", "2711,2712", "--profile", "netboot"],
                env)
        check(p.returncode == 0, f"flash exit {p.returncode}: {p.stderr}")
        want = os.path.join(tmp, "cache", "rpiprov", "firmware", "2711", "default",
                            newest("2711", "default"))
        check(f"using image {want}: " in p.stderr, p.stderr)
        check("fetch cache" in p.stderr, p.stderr)
        check("synthetic" not in p.stdout + p.stderr, p.stdout + p.stderr)
        p = run(["firmware", "list", "--json"], env)
        check(p.returncode == 0, p.stderr)
        listed = json.loads(p.stdout)
        check(listed["flash_uses"]["2711"]["image"] == want, p.stdout)
        check(any(f["selected"] and f["found_in"] == "fetch cache" for f in listed["files"]),
              p.stdout)


def test_latest_channel_from_env_url(url):
    """RPIPROV_FIRMWARE_URL stands for --base-url; latest is its own folder."""
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(tmp)
        env["RPIPROV_FIRMWARE_URL"] = url + "/ok/"
        p = run(["firmware", "fetch", "--soc", "2711", "--channel", "latest"], env)
        check(p.returncode == 0, p.stderr)
        d = os.path.join(tmp, "cache", "rpiprov", "firmware", "2711", "latest")
        check(os.path.isfile(os.path.join(d, newest("2711", "latest"))), str(files_under(tmp)))
        check(not os.path.exists(os.path.join(tmp, "cache", "rpiprov", "firmware", "2712")),
              "fetched 2712 without being asked")


def fault(url, args, want_exit, want_text):
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(tmp)
        p = run(["firmware", "fetch", "--soc", "2711"] + args + ["--base-url", url], env)
        check(p.returncode == want_exit, f"exit {p.returncode}, want {want_exit}: {p.stderr}")
        check(want_text in p.stderr, f"no '{want_text}' in: {p.stderr}")
        check(files_under(tmp) == [], f"files left behind: {files_under(tmp)}")


def test_fault_keeps_good_files(url):
    """A failed fetch replaces nothing that an earlier one left."""
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(tmp)
        p = run(["firmware", "fetch", "--soc", "2711", "--base-url", url + "/ok"], env)
        check(p.returncode == 0, p.stderr)
        before = {f: open(f, "rb").read() for f in files_under(tmp)}
        for mode in ("bad", "cut", "badsha"):
            p = run(["firmware", "fetch", "--soc", "2711", "--base-url", url + "/" + mode], env)
            check(p.returncode != 0, f"{mode}: exit 0")
        after = {f: open(f, "rb").read() for f in files_under(tmp)}
        check(before == after, f"files changed: {sorted(before)} -> {sorted(after)}")


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    if not FIRMWARE:
        return skip_all("no firmware fixtures (RPIPROV_TEST_FIRMWARE)")
    server = subprocess.Popen([sys.executable, sys.argv[1], FIRMWARE], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        case("good fetch, manifest, flash uses it", test_good_fetch, url)
        case("latest channel, RPIPROV_FIRMWARE_URL", test_latest_channel_from_env_url, url)
        case("404: exit 66", fault, url + "/404", [], 66, "HTTP 404")
        case("connection cut mid-file: exit 74", fault, url + "/cut", [], 74, "cut short")
        case("not a bootloader image: exit 65", fault, url + "/bad", [], 65,
             "not a bootloader image")
        case("git SHA-1 mismatch: exit 65", fault, url + "/badsha", [], 65, "git SHA-1")
        case("index not JSON: exit 65", fault, url + "/noindex", [], 65, "not a file list")
        case("slow server against --timeout: exit 75", fault, url + "/slow",
             ["--timeout", "500ms"], 75, "stalled")
        case("a server dripping a byte at a time: exit 75 within the window", fault, url + "/drip",
             ["--timeout", "1s"], 75, "too slow")
        case("a captive portal's HTML as recovery.bin: exit 65, nothing cached", fault, url + "/portal",
             [], 65, "not a recovery.bin")
        case("the other chip's recovery.bin: exit 65, nothing cached", fault, url + "/swapped",
             [], 65, "not one for BCM2711")
        case("plain http to another host in the index: refused", fault, url + "/evil", [], 65,
             "only https://")
        case("plain http base URL: refused", fault, "http://mirror.invalid/x", [], 65,
             "only https://")
        # A name that merely starts like a loopback address is a remote host.
        case("plain http to a 127.* host name: refused", fault,
             "http://127.0.0.1.mirror.invalid/x", [], 65, "only https://")
        case("network down: exit 69", fault, f"http://127.0.0.1:{closed_port()}", [], 69,
             "onnect")
        case("a failed fetch replaces nothing", test_fault_keeps_good_files, url)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    return done()


if __name__ == "__main__":
    sys.exit(main())
