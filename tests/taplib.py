"""TAP for the Python test scripts, as tests/testlib.h does for C: each
case() prints one "ok N - name" or "not ok N - name" line so that
`meson test` lists every scenario; check() prints why on stderr."""
import sys

_failures = 0
_cases = 0
_case_failures = 0


def check(cond, what):
    global _failures
    if not cond:
        print("CHECK failed:", what, file=sys.stderr)
        _failures += 1
    return cond


def failures():
    return _failures


def case(name, fn, *args, **kwargs):
    """Run fn(*args, **kwargs) as one TAP case named `name`. An exception
    fails the case, not the whole program."""
    global _cases, _case_failures, _failures
    before = _failures
    try:
        fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - reported, and the case fails
        print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
        _failures += 1
    _cases += 1
    new = _failures - before
    _case_failures += new
    print(f"{'not ok' if new else 'ok'} {_cases} - {name.replace('#', '%23')}", flush=True)
    sys.stderr.flush()


def skip_all(reason):
    print(f"1..0 # SKIP {reason}", flush=True)
    print(f"skipped: {reason}", file=sys.stderr)
    return 0


def done():
    """Print the plan; the program's exit status."""
    global _cases
    if _failures > _case_failures:
        _cases += 1
        print(f"not ok {_cases} - checks outside a case")
    print(f"1..{_cases}", flush=True)
    if _failures:
        print(f"{_failures} check(s) failed", file=sys.stderr)
    return 1 if _failures else 0


def skip_case(name, reason):
    """One case that cannot run here, with the reason (TAP's # SKIP)."""
    global _cases
    _cases += 1
    print(f"ok {_cases} - {name.replace('#', '%23')} # SKIP {reason}", flush=True)


def foreign_binary(path):
    """Whether the ELF program at path is for another machine than this
    one's (a cross build run under qemu-user, tools/test-arm64): timing and
    memory figures then include the emulator's own."""
    import platform
    machines = {"x86_64": 62, "aarch64": 183, "arm64": 183}
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return False
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    host = machines.get(platform.machine())
    return host is not None and machine != host
