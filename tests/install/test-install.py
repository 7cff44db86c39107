#!/usr/bin/env python3
"""`meson install` into a staging directory installs what a Debian tool
ships: the program, a man page per command, bash and zsh completion, the
LICENSE, the systemd unit, udev rules, examples and data; nothing else.
The man pages render, the completion scripts load and complete."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import case, check, done, skip_all  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else None
COMMANDS = ["eeprom", "digest", "prepare", "flash", "boot", "list", "station", "report", "firmware"]


def expected(scdoc):
    files = {
        "bin/rpiprov",
        "share/doc/rpiprov/LICENSE",
        "share/bash-completion/completions/rpiprov",
        "share/zsh/vendor-completions/_rpiprov",
        "share/rpiprov/examples/61-rpiprov-autoprovision.rules",
        "share/rpiprov/examples/station.conf.example",
        "share/metainfo/rpiprov.metainfo.xml",
        "share/rpiprov/recovery/config.txt",
    }
    files |= {f"share/rpiprov/eeprom/{p}.conf" for p in
              ("default", "netboot", "netboot-only", "nvme", "usb-then-sd")}
    if scdoc:
        files |= {"share/man/man1/rpiprov.1", "share/man/man5/station.conf.5"} | \
            {f"share/man/man1/rpiprov-{c}.1" for c in COMMANDS}
    return files


def test_install(stage):
    env = dict(os.environ, DESTDIR=stage)
    r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet"], env=env,
                       capture_output=True, text=True)
    check(r.returncode == 0, f"meson install: {r.stderr[-1000:]}")
    r = subprocess.run(["meson", "introspect", BUILD, "--buildoptions"], capture_output=True, text=True)
    import json
    prefix = next(o["value"] for o in json.loads(r.stdout) if o["name"] == "prefix")
    root = stage + prefix
    got = set()
    outside = set()
    for d, _, files in os.walk(stage):
        for f in files:
            path = os.path.join(d, f)
            if path.startswith(root + "/"):
                got.add(os.path.relpath(path, root))
            else:
                outside.add(os.path.relpath(path, stage))
    scdoc = shutil.which("scdoc") is not None
    if not scdoc and os.environ.get("CI"):
        check(False, "scdoc missing (CI is set: the man pages must be built)")
    want = expected(scdoc)
    check(got == want, f"installed under the prefix: missing {sorted(want - got)}, unexpected {sorted(got - want)}")
    check(any(p.endswith("rpiprov-station.service") for p in outside), f"the systemd unit: {sorted(outside)}")
    check(any(p.endswith("60-rpiprov.rules") for p in outside), "the udev rules")
    rules = next((os.path.join(stage, p) for p in outside if p.endswith("60-rpiprov.rules")), None)
    if rules:
        check_metainfo(rules, os.path.join(root, "share/metainfo/rpiprov.metainfo.xml"))
    unit = next((os.path.join(stage, p) for p in outside if p.endswith("rpiprov-station.service")), None)
    if unit:
        text = open(unit).read()
        check("Type=notify" in text and f"{prefix}/bin/rpiprov station" in text, "the unit runs the installed binary")
    return root


def check_metainfo(rules, metainfo):
    """The AppStream metainfo declares exactly the USB ids the udev rules
    match (lintian warns of any rule's device missing there)."""
    import xml.etree.ElementTree as ET
    ids = set(re.findall(r'ATTR\{idVendor\}=="([0-9a-f]{4})", ATTR\{idProduct\}=="([0-9a-f]{4})"',
                         open(rules).read()))
    check(ids, f"{rules} matches USB ids")
    want = {f"usb:v{v.upper()}p{p.upper()}d*" for v, p in ids}
    try:
        root = ET.parse(metainfo).getroot()
    except (OSError, ET.ParseError) as e:
        check(False, f"{metainfo}: {e}")
        return
    got = {m.text for m in root.iter("modalias")}
    check(root.tag == "component" and root.findtext("id") == "rpiprov", f"{metainfo} is rpiprov's component")
    check(got == want, f"metainfo modaliases {sorted(got)} are the rules' ids {sorted(want)}")


def test_man(root):
    if not shutil.which("scdoc"):
        return
    pages = [os.path.join(root, "share/man/man1", f"rpiprov{'-' + c if c else ''}.1") for c in [""] + COMMANDS]
    pages.append(os.path.join(root, "share/man/man5/station.conf.5"))
    for page in pages:
        text = open(page).read()
        check(".SH EXAMPLES" in text, f"{page} has an EXAMPLES section")
        check("C22" not in text and "F19" not in text and "../shared" not in text,
              f"{page}: no internal evidence codes or paths")
        check(text.startswith(".\\\"") or ".TH" in text, f"{page} is a man page")
        if shutil.which("man"):
            env = dict(os.environ, MANWIDTH="80")
            env.pop("SOURCE_DATE_EPOCH", None)  # troff refuses an empty one
            r = subprocess.run(["man", "-l", page], capture_output=True, text=True, env=env)
            plain = re.sub(".\b", "", r.stdout)  # overstrike bold
            check(r.returncode == 0 and "NAME" in plain and "rpiprov" in plain, f"man -l {page}: {r.stderr[-200:]}")
    top = open(pages[0]).read().replace("\\-", "-").replace("\\&", "")
    env = top[top.index(".SH ENVIRONMENT"):top.index(".SH EXIT STATUS")]
    for var in ("RPIPROV_FIRMWARE_URL", "XDG_CACHE_HOME", "FIRMWARE_ROOT", "RPIPROV_FIRMWARE_DIR"):
        check(var in env, f"rpiprov(1) ENVIRONMENT names {var}")
    check("rpiprov-firmware" in top and "station.conf" in top, "rpiprov(1) lists firmware and station.conf(5)")


def test_completion(root):
    bash_comp = "/usr/share/bash-completion/bash_completion"
    binary = os.path.join(root, "bin")
    if os.path.exists(bash_comp):
        script = os.path.join(root, "share/bash-completion/completions/rpiprov")
        cmd = (f"source {bash_comp}; source {script}; "
               "COMP_WORDS=(rpiprov sta); COMP_CWORD=1; COMP_LINE='rpiprov sta'; COMP_POINT=11; _rpiprov; "
               "echo \"1:${COMPREPLY[*]}\"; "
               "COMP_WORDS=(rpiprov station --ht); COMP_CWORD=2; COMP_LINE='rpiprov station --ht'; "
               "COMP_POINT=20; _rpiprov; echo \"2:${COMPREPLY[*]}\"")
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                           env=dict(os.environ, PATH=binary + ":" + os.environ["PATH"]))
        check("1:station" in r.stdout, f"bash completes the command: {r.stdout!r} {r.stderr[-300:]!r}")
        check("--http" in r.stdout and "--http-token" in r.stdout, f"bash completes station's options: {r.stdout!r}")
        cmd = (f"source {bash_comp}; source {script}; "
               "COMP_WORDS=(rpiprov fir); COMP_CWORD=1; COMP_LINE='rpiprov fir'; COMP_POINT=11; _rpiprov; "
               "echo \"1:${COMPREPLY[*]}\"; "
               "COMP_WORDS=(rpiprov firmware f); COMP_CWORD=2; COMP_LINE='rpiprov firmware f'; "
               "COMP_POINT=18; _rpiprov; echo \"2:${COMPREPLY[*]}\"")
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                           env=dict(os.environ, PATH=binary + ":" + os.environ["PATH"]))
        check("1:firmware" in r.stdout and "2:fetch" in r.stdout,
              f"bash completes firmware and its subcommands: {r.stdout!r}")
    elif os.environ.get("CI"):
        check(False, "bash-completion missing (CI is set)")
    if shutil.which("zsh"):
        r = subprocess.run(["zsh", "-n", os.path.join(root, "share/zsh/vendor-completions/_rpiprov")],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"zsh reads _rpiprov: {r.stderr}")
        # Where Debian's zsh looks (its fpath has $prefix/share/zsh/vendor-completions):
        # compinit finds the function there and binds it to the command.
        comp_dir = os.path.join(root, "share/zsh/vendor-completions")
        script = (f"fpath=({comp_dir} $fpath); autoload -U compinit; compinit -u -D; "
                  "print -r -- \"comp:$_comps[rpiprov]\"")
        r = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True,
                           env=dict(os.environ, HOME=root))
        check("comp:_rpiprov" in r.stdout, f"zsh compinit finds _rpiprov: {r.stdout!r} {r.stderr[-300:]!r}")
        r = subprocess.run(["zsh", "-f", "-c", "print -l $fpath"], capture_output=True, text=True)
        if "/usr/share/zsh/vendor-completions" in r.stdout.split():
            check(os.path.relpath(comp_dir, root) == "share/zsh/vendor-completions",
                  "installed in the folder this zsh searches (under the prefix)")
        r = subprocess.run(["grep", "-c", "firmware", os.path.join(comp_dir, "_rpiprov")],
                           capture_output=True, text=True)
        check(r.stdout.strip() not in ("", "0"), "zsh completes firmware")
    elif os.environ.get("CI"):
        check(False, "zsh missing (CI is set)")


def test_example_config(root):
    """The installed station.conf example runs as it is (on simulated
    boards, which never write into the records it names)."""
    example = os.path.join(root, "share/rpiprov/examples/station.conf.example")
    text = open(example).read()
    check("/usr/share/rpiprov/firmware" not in text, "no firmware paths that nothing creates")
    check(re.search(r"^http = ", text, re.M), "the dashboard is configured (an http key)")
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([os.path.join(root, "bin", "rpiprov"), "station", "-f", example, "--simulate", "2",
                            "--plain", "--http", "127.0.0.1:0"], capture_output=True, text=True, cwd=tmp,
                           timeout=120)
        check(r.returncode == 0 and "2 attempts: 2 OK" in r.stderr,
              f"station -f EXAMPLE --simulate 2: {r.returncode} {r.stderr[-400:]!r}")


def test_help(root):
    binary = os.path.join(root, "bin", "rpiprov")
    for c in COMMANDS:
        a = subprocess.run([binary, "help", c], capture_output=True, text=True)
        b = subprocess.run([binary, c, "--help"], capture_output=True, text=True)
        check(a.returncode == 0 and a.stdout == b.stdout and a.stdout.startswith("Usage: rpiprov " + c),
              f"rpiprov help {c} is rpiprov {c} --help")
    r = subprocess.run([binary, "help", "nope"], capture_output=True, text=True)
    check(r.returncode == 64 and r.stderr.count("unknown command") == 1, f"help of no command: {r.stderr!r}")


def main():
    if not BUILD or not shutil.which("meson"):
        return skip_all("build directory or meson not given")
    with tempfile.TemporaryDirectory() as stage:
        roots = []
        case("meson install file list", lambda: roots.append(test_install(stage)))
        if roots and roots[0]:
            case("man pages", test_man, roots[0])
            case("shell completion", test_completion, roots[0])
            case("rpiprov help CMD", test_help, roots[0])
            case("the example station.conf runs as installed", test_example_config, roots[0])
    return done()


if __name__ == "__main__":
    sys.exit(main())
