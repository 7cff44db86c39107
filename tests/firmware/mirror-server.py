#!/usr/bin/env python3
"""A local mirror of raspberrypi/rpi-eeprom for the fetch tests, on
127.0.0.1 (port chosen by the kernel, printed on the first line of stdout).

It serves exactly the layout rpiprov expects of a mirror, built at start
from a firmware folder (FIRMWARE/2711/pieeprom-*.bin, recovery.bin, ...):
    /<mode>/firmware-<soc>/<channel>/index.json   (GitHub contents API format)
    /<mode>/firmware-<soc>/<channel>/<file>
for channels default and latest. <mode> is "ok" or a fault:
    404     the image is listed but not served
    cut     the image's Content-Length is sent in full, then half the body
            and the connection is closed
    bad     the image is replaced by bytes of the same size that are no image
            (the index agrees with them: only parsing the image can tell)
    slow    the image's headers come, then nothing (until the client leaves)
    badsha  the index gives a git SHA-1 the image does not have
    evil    the index's download_url points at a plain-http non-loopback host
    noindex index.json is not JSON
    drip    the image's headers come, then one byte every 0.2 s
    portal  recovery.bin is a captive portal's HTML page (the index agrees)
    swapped recovery.bin is the other chip's (the index agrees)
"""
import hashlib
import http.server
import json
import os
import sys
import threading
import time

MODES = ("ok", "404", "cut", "bad", "slow", "badsha", "evil", "noindex", "drip", "portal",
         "swapped")
PORTAL = b"<!DOCTYPE html>\n<html><head><title>Sign in to the guest network</title></head>" \
    b"<body><form action=/login>" + b"x" * 70000 + b"</form></body></html>\n"


def git_sha(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def build(firmware):
    """{(soc, channel): {name: bytes}}: the newest image of each SoC in
    "default", every image in "latest", and recovery.bin in both."""
    tree = {}
    for soc in ("2711", "2712"):
        d = os.path.join(firmware, soc)
        if not os.path.isdir(d):
            continue
        images = sorted(n for n in os.listdir(d) if n.startswith("pieeprom-") and n.endswith(".bin"))
        with open(os.path.join(d, "recovery.bin"), "rb") as f:
            rec = f.read()
        files = {}
        for n in images:
            with open(os.path.join(d, n), "rb") as f:
                files[n] = f.read()
        tree[(soc, "latest")] = dict(files, **{"recovery.bin": rec})
        # "default" lags: everything but the newest when there are several
        older = images[:-1] or images
        tree[(soc, "default")] = dict({n: files[n] for n in older}, **{"recovery.bin": rec})
    recs = {soc: tree[(soc, "latest")]["recovery.bin"] for soc in ("2711", "2712")
            if (soc, "latest") in tree}
    if len(recs) == 2:
        for (soc, channel), files in list(tree.items()):
            other = "2712" if soc == "2711" else "2711"
            tree[("swapped", soc, channel)] = dict(files, **{"recovery.bin": recs[other]})
    return tree


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="application/octet-stream", length=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) != 4 or parts[0] not in MODES or not parts[1].startswith("firmware-"):
            return self.send(404, b"not found\n", "text/plain")
        mode, folder, channel, name = parts
        soc = folder[len("firmware-"):]
        files = self.server.tree.get(("swapped", soc, channel) if mode == "swapped"
                                     else (soc, channel))
        if files is None:
            return self.send(404, b"not found\n", "text/plain")
        if name == "index.json":
            if mode == "noindex":
                return self.send(200, b"<html>not an index</html>", "text/html")
            index = []
            for n, data in sorted(files.items()):
                if mode == "bad" and n.startswith("pieeprom"):
                    data = b"\x00" * len(data)  # a mirror consistently serving junk
                if mode == "portal" and n == "recovery.bin":
                    data = PORTAL
                e = {"name": n, "type": "file", "size": len(data), "sha": git_sha(data)}
                if mode == "badsha" and n.startswith("pieeprom"):
                    e["sha"] = "0" * 40
                if mode == "evil":
                    e["download_url"] = "http://mirror.invalid/" + n
                index.append(e)
            index.append({"name": "old", "type": "dir"})
            return self.send(200, json.dumps(index).encode(), "application/json")
        data = files.get(name)
        if data is None:
            return self.send(404, b"not found\n", "text/plain")
        image = name.startswith("pieeprom")
        if mode == "portal" and name == "recovery.bin":
            return self.send(200, PORTAL, "text/html")
        if image and mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            deadline = time.monotonic() + 120
            try:
                for b in data:
                    if time.monotonic() > deadline:
                        break
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            self.close_connection = True
            return
        if image and mode == "404":
            return self.send(404, b"not found\n", "text/plain")
        if image and mode == "bad":
            return self.send(200, b"\x00" * len(data))
        if image and mode == "cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if image and mode == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:1000])
            self.wfile.flush()
            # Nothing more until the client gives up (bounded, so the
            # server never outlives a test by much).
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.05)
                try:
                    self.wfile.write(b"")
                    self.connection.setblocking(False)
                    if self.connection.recv(1, 0x40) == b"":  # MSG_DONTWAIT
                        break
                except BlockingIOError:
                    continue
                except OSError:
                    break
            self.close_connection = True
            return
        return self.send(200, data)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.tree = build(sys.argv[1])
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Serve until the test closes our stdin (or dies).
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
