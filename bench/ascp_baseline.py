#!/usr/bin/env python3
"""The kind of tool Shoal replaces: a plain Python script that applies about a
hundred regular expressions to every line of an Aspera ascp log, one per
field as such scripts grow, then aggregates per session.

It extracts the same fields as Shoal's `format = 'ascp'` (the syslog header,
the line's kind and role, every member of the statistics groups such as
`rate t/m/c/n/vl/vr/r=…`, and the key=value pairs of session lines), and
reports, per session (host, pid), what `shoal gen ascp-queries`' first query
(`sessions`) computes over the statistics lines:

    SELECT host, pid, count(*) AS lines, avg(rate_c) AS avg_rate,
           max(rex_rtt_s) AS max_rtt, max(prog_t) AS bytes
    FROM ascp WHERE kind = 'stats' GROUP BY host, pid

Usage: ascp_baseline.py FILE... [--out results.jsonl]
Prints `records N seconds S records/s R regexes K` to standard error.
"""

import json
import re
import sys
import time

# The syslog header.
HEADER = re.compile(r"^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\S+) (ascp\w*)\[(\d+)\]: +(.*?)\s*$")
LEVEL = re.compile(r"^([A-Z]+) ")

# One regex per kind of line.
KINDS = [
    ("stats", re.compile(r"^LOG (?:Receiver|Sender) ")),
    ("session_start", re.compile(r"^LOG FASP Session Start\b")),
    ("session_stop", re.compile(r"^LOG FASP Session Stop\b")),
    ("session_params", re.compile(r"^LOG FASP Session Parameters\b")),
    ("transfer_start", re.compile(r"^LOG FASP Transfer Start\b")),
    ("transfer_stop", re.compile(r"^LOG FASP Transfer Stop\b")),
    ("error", re.compile(r"^ERR ")),
    ("warning", re.compile(r"^WARN ")),
]
ROLE = re.compile(r"^LOG (Receiver|Sender) ")

# One regex per member of each statistics group: `name a/b/c=1/2/3`.
GROUPS = [
    ("bl", "t/o/r/d"),
    ("rex_rtt", "l/h/s/o"),
    ("ooo_rtt", "l/h/s/o"),
    ("rate_rtt", "b/l/h/s/r/f"),
    ("ctl", "bm/bs"),
    ("rex", "n/s/q/v/a/r"),
    ("disk", "l/h/b"),
    ("vlink", "lq/lo/rq/ro"),
    ("rate", "t/m/c/n/vl/vr/r"),
    ("prog", "t/f/e"),
]
MEMBERS = []
for name, keys in GROUPS:
    for i, key in enumerate(keys.split("/")):
        pattern = re.escape(f" {name} {keys}=") + r"(?:[^/ ]+/){%d}(-?\d+)" % i
        MEMBERS.append((f"{name}_{key}", re.compile(pattern)))

# One regex per key=value field of statistics and session lines.
PAIR_KEYS = [
    "rcvD", "sndD", "dsk_w", "dsk_r",
    "uuid", "op", "status", "source", "dest", "source_prefix", "local", "peer",
    "tcp_port", "ver", "lic", "peerver", "proto_sess", "proto_udp", "proto_bwmeas",
    "proto_data", "userid", "targetrate", "minrate", "rate_policy", "cipher",
    "resume", "create", "ovr", "times", "precalc", "mf", "mf_path", "mf_suffix",
    "files_encrypt", "files_decrypt", "file_csum", "dgram_sz", "prepostcmd",
    "tcp_mode", "rtt_auto", "vl_proto_ver", "vl_local", "vlink_remote",
    "vl_sess_id", "srcbase", "cluster_num_nodes", "keepalive", "net_rc_alg",
    "size", "start_byte", "rate", "elapsed", "loss", "rexreqs", "overhead", "files",
]
PAIRS = [(k, re.compile(re.escape(f" {k}=") + r"([^ \"]*)")) for k in PAIR_KEYS]
QUOTED = [(k, re.compile(re.escape(f" {k}=\"") + r"([^\"]*)\"")) for k in ["file", "user", "os", "peeros", "cookie"]]

REGEX_COUNT = 2 + len(KINDS) + 1 + len(MEMBERS) + len(PAIRS) + len(QUOTED)

MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


def typed(text):
    """Integers, then floats, else the text (as Shoal types unquoted values)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def parse(line):
    """Every field of one line, or None for a line that is not ascp."""
    m = HEADER.match(line)
    if not m:
        return None
    mon, day, hh, mm, ss, host, program, pid, message = m.groups()
    rec = {
        "month": MONTHS.get(mon), "day": int(day),
        "time": int(hh) * 3600 + int(mm) * 60 + int(ss),
        "host": host, "program": program, "pid": int(pid),
    }
    lv = LEVEL.match(message)
    rec["level"] = lv.group(1) if lv else None
    rec["kind"] = "log"
    for kind, rx in KINDS:
        if rx.search(message):
            rec["kind"] = kind
            break
    role = ROLE.search(message)
    rec["role"] = role.group(1) if role else None
    for field, rx in MEMBERS:
        f = rx.search(message)
        if f:
            rec[field] = int(f.group(1))
    for field, rx in PAIRS:
        f = rx.search(message)
        if f:
            rec[field] = typed(f.group(1))
    for field, rx in QUOTED:
        f = rx.search(message)
        if f:
            rec[field] = f.group(1)
    return rec


def main(argv):
    out_path = None
    files = []
    args = iter(argv)
    for a in args:
        if a == "--out":
            out_path = next(args)
        else:
            files.append(a)
    sessions = {}
    records = 0
    rejected = 0
    start = time.perf_counter()
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                records += 1
                rec = parse(line)
                if rec is None:
                    rejected += 1
                    continue
                if rec["kind"] != "stats":
                    continue
                key = (rec["host"], rec["pid"])
                s = sessions.get(key)
                if s is None:
                    s = sessions[key] = {"lines": 0, "rate_sum": 0, "rate_n": 0, "max_rtt": None, "bytes": None}
                s["lines"] += 1
                rate = rec.get("rate_c")
                if rate is not None:
                    s["rate_sum"] += rate
                    s["rate_n"] += 1
                for agg, field in (("max_rtt", "rex_rtt_s"), ("bytes", "prog_t")):
                    v = rec.get(field)
                    if v is not None and (s[agg] is None or v > s[agg]):
                        s[agg] = v
    seconds = time.perf_counter() - start
    out = open(out_path, "w") if out_path else sys.stdout
    for (host, pid), s in sorted(sessions.items()):
        avg = s["rate_sum"] / s["rate_n"] if s["rate_n"] else None
        row = {"host": host, "pid": pid, "lines": s["lines"], "avg_rate": avg,
               "max_rtt": s["max_rtt"], "bytes": s["bytes"]}
        out.write(json.dumps(row) + "\n")
    if out_path:
        out.close()
    print(
        f"records {records} seconds {seconds:.3f} records/s {records / seconds:.0f} "
        f"regexes {REGEX_COUNT} rejected {rejected}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
