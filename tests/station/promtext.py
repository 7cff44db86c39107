"""A strict parser for the Prometheus text exposition format (0.0.4), for
tests: it raises ValueError on anything the format does not allow, and
checks the rules a scraper relies on (one TYPE per family before its
samples, families not interleaved, label escaping, histogram buckets
cumulative and ending in le="+Inf" equal to _count)."""
import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _value(text, where):
    if text in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(f"{where}: bad value {text!r}")
    return float(text)


def _labels(s, i, where):
    labels = {}
    i += 1  # past '{'
    while True:
        if s[i] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            raise ValueError(f"{where}: bad label name at {s[i:]!r}")
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError(f"{where}: expected =\" after label {name}")
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise ValueError(f"{where}: unterminated label value")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ValueError(f"{where}: bad escape \\{nxt}")
                val.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError(f"{where}: newline in label value")
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise ValueError(f"{where}: label {name} twice")
        labels[name] = "".join(val)
        if s[i] == ",":
            i += 1
        elif s[i] != "}":
            raise ValueError(f"{where}: expected , or }} after label {name}")


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in ("histogram", "summary"):
            return name[:-len(suffix)]
    return name


def parse(text):
    """Returns {family: {"type", "help", "samples": [(name, labels, value)]}}."""
    if not text.endswith("\n"):
        raise ValueError("exposition does not end with a newline")
    families, types, done, current = {}, {}, set(), None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}"
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise ValueError(f"{where}: bad metric name {name!r}")
                fam = families.setdefault(name, {"type": "untyped", "help": None, "samples": []})
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ValueError(f"{where}: bad TYPE line")
                    if name in types:
                        raise ValueError(f"{where}: second TYPE for {name}")
                    if fam["samples"]:
                        raise ValueError(f"{where}: TYPE for {name} after its samples")
                    types[name] = parts[3]
                    fam["type"] = parts[3]
                else:
                    if fam["help"] is not None:
                        raise ValueError(f"{where}: second HELP for {name}")
                    fam["help"] = parts[3] if len(parts) == 4 else ""
            continue
        m = NAME.match(line)
        if not m:
            raise ValueError(f"{where}: bad sample line {line!r}")
        name, i = m.group(0), m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _labels(line, i, where)
        if i >= len(line) or line[i] != " ":
            raise ValueError(f"{where}: expected a space before the value")
        rest = line[i + 1:].split(" ")
        if len(rest) not in (1, 2):
            raise ValueError(f"{where}: junk after the value")
        value = _value(rest[0], where)
        if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
            raise ValueError(f"{where}: bad timestamp")
        fam_name = family_of(name, types)
        if fam_name != current:
            if fam_name in done:
                raise ValueError(f"{where}: samples of {fam_name} are not together")
            if current:
                done.add(current)
            current = fam_name
        fam = families.setdefault(fam_name, {"type": "untyped", "help": None, "samples": []})
        key = (name, tuple(sorted(labels.items())))
        if any((s[0], tuple(sorted(s[1].items()))) == key for s in fam["samples"]):
            raise ValueError(f"{where}: duplicate series {name}{labels}")
        if fam["type"] == "counter" and (value < 0 or math.isnan(value)):
            raise ValueError(f"{where}: counter {name} is {value}")
        if fam["type"] == "histogram" and name == fam_name:
            raise ValueError(f"{where}: histogram {name} sample without _bucket/_sum/_count")
        fam["samples"].append((name, labels, value))
    for fam_name, fam in families.items():
        if fam["type"] == "histogram":
            _check_histogram(fam_name, fam["samples"])
    return families


def _check_histogram(name, samples):
    series = {}
    for sname, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            if "le" not in labels:
                raise ValueError(f"{name}_bucket without le")
            s["buckets"].append((_value(labels["le"], name + " le"), value))
        elif sname == name + "_sum":
            s["sum"] = value
        elif sname == name + "_count":
            s["count"] = value
    for rest, s in series.items():
        b = s["buckets"]
        if not b or b[-1][0] != math.inf:
            raise ValueError(f"{name}{dict(rest)}: last bucket is not le=\"+Inf\"")
        if [x[0] for x in b] != sorted(x[0] for x in b):
            raise ValueError(f"{name}{dict(rest)}: buckets not in order")
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            raise ValueError(f"{name}{dict(rest)}: buckets not cumulative")
        if s["count"] is None or s["sum"] is None:
            raise ValueError(f"{name}{dict(rest)}: _sum or _count missing")
        if s["count"] != b[-1][1]:
            raise ValueError(f"{name}{dict(rest)}: _count {s['count']} != +Inf bucket {b[-1][1]}")


def value(families, name, **labels):
    fam = families[family_of(name, {k: v["type"] for k, v in families.items()})]
    for sname, slabels, v in fam["samples"]:
        if sname == name and all(slabels.get(k) == str(x) for k, x in labels.items()):
            return v
    raise KeyError(f"{name}{labels}")
