#!/usr/bin/env python3
"""bench/report.py — turn the JSON results of bench/compare.sh into one table:
per scenario each server's figure, the per-CPU-second figures, and the ratios
aldis/prosody and aldis/ejabberd. Usage: report.py RESULTS_DIR [PARAMS]."""
import json
import os
import sys

SERVERS = ["aldis", "prosody", "ejabberd"]


def load(results, server, scenario):
    path = os.path.join(results, f"{server}-{scenario}.json")
    try:
        with open(path) as f:
            data = json.loads(f.read().strip() or "null")
    except (OSError, ValueError):
        return None
    if not data or not data.get("ok"):
        return None
    return data


def per_cpu(count, cpu):
    return count / cpu if cpu and cpu > 0 else None


# Each row: (scenario, label, higher_is_better, function(result) -> number)
ROWS = [
    ("idle", "KiB per idle session (RSS growth)", False,
     lambda r: (r["server_rss_kb_ready"] - r["server_rss_kb_start"]) / r["sessions"]
     if r["server_rss_kb_start"] > 0 and r["sessions"] else None),
    ("idle", "server RSS with all sessions up, MiB", False,
     lambda r: r["server_rss_kb_ready"] / 1024 if r["server_rss_kb_ready"] > 0 else None),
    ("idle", "sessions set up per server CPU-s", True,
     lambda r: per_cpu(r["sessions"], r["server_setup_cpu_s"])),
    ("login", "logins/s", True, lambda r: r["value"]),
    ("login", "logins per server CPU-s", True,
     lambda r: per_cpu(r["logins"], r["server_cpu_s"])),
    ("chat", "messages delivered/s", True, lambda r: r["value"]),
    ("chat", "messages per server CPU-s", True,
     lambda r: per_cpu(r["delivered"], r["server_cpu_s"])),
    ("latency", "p50 latency, ms", False, lambda r: r["p50_ms"]),
    ("latency", "p99 latency, ms", False, lambda r: r["p99_ms"]),
    ("latency", "server CPU % at the fixed rate", False,
     lambda r: 100 * r["server_cpu_s"] / r["seconds"] if r["server_cpu_s"] >= 0 else None),
    # muc: one copy of a groupchat message received by one occupant is one
    # delivery; deliveries per server CPU-second is the figure to compare.
    ("muc", "deliveries/s (saturation)", True, lambda r: r["value"]),
    ("muc", "deliveries per server CPU-s", True,
     lambda r: per_cpu(r["delivered"], r["server_cpu_s"])),
    ("muc", "p50 latency at saturation, ms", False, lambda r: r["p50_ms"]),
    ("muc", "p99 latency at saturation, ms", False, lambda r: r["p99_ms"]),
    ("muc", "server CPU-s for all occupants to enter", False,
     lambda r: r["server_join_cpu_s"] if r.get("server_join_cpu_s", -1) >= 0 else None),
    ("muc", "server RSS with everyone in the room, MiB", False,
     lambda r: r["server_rss_kb_ready"] / 1024 if r["server_rss_kb_ready"] > 0 else None),
    ("muclat", "deliveries/s at the fixed rate", True, lambda r: r["value"]),
    ("muclat", "deliveries per server CPU-s", True,
     lambda r: per_cpu(r["delivered"], r["server_cpu_s"])),
    ("muclat", "p50 latency, ms", False, lambda r: r["p50_ms"]),
    ("muclat", "p99 latency, ms", False, lambda r: r["p99_ms"]),
    ("muclat", "server CPU % at the fixed rate", False,
     lambda r: 100 * r["server_cpu_s"] / r["seconds"] if r["server_cpu_s"] >= 0 else None),
]
# The WebSocket scenarios (RFC 7395): the same rows as their TCP twins.
WS_TWINS = ("idle", "login", "chat", "latency")
ROWS += [("ws" + scen, label, higher, fn) for scen, label, higher, fn in list(ROWS)
         if scen in WS_TWINS]
SCENARIOS = ["idle", "login", "chat", "latency", "muc", "muclat"] + ["ws" + s for s in WS_TWINS]


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}"


def main():
    results = sys.argv[1]
    params = sys.argv[2] if len(sys.argv) > 2 else ""
    status = {}
    try:
        with open(os.path.join(results, "status")) as f:
            for line in f:
                name, _, rest = line.strip().partition(" ")
                status[name] = rest
    except OSError:
        pass

    print(f"## aldis vs Prosody vs ejabberd ({params})")
    print()
    for name in SERVERS:
        if name in status and status[name] != "ok":
            print(f"- {name}: {status[name]}")
    mechs = {}
    for name in SERVERS:
        for scen in SCENARIOS:
            r = load(results, name, scen)
            if r and r.get("mechanism"):
                mechs[name] = r["mechanism"]
    if mechs:
        print("- SASL: " + ", ".join(f"{n} {m}" for n, m in mechs.items()))
    print()
    head = ["scenario", "metric", "better"] + SERVERS + ["aldis/prosody", "aldis/ejabberd"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    client_bound = []
    for scen, label, higher, fn in ROWS:
        vals = {}
        for name in SERVERS:
            r = load(results, name, scen)
            try:
                vals[name] = fn(r) if r else None
            except (KeyError, TypeError, ZeroDivisionError):
                vals[name] = None
            # A client that used nearly all of its own CPU limited the run.
            rate_row = label.startswith(("messages delivered/s", "logins/s", "deliveries/s"))
            if r and scen in ("chat", "login", "muc", "wschat", "wslogin") and rate_row \
                    and r["seconds"] > 0:
                if r.get("client_cpu_s", 0) / (r["seconds"] * r.get("threads", 1)) > 0.9:
                    client_bound.append(f"{name} {scen}")
        if all(v is None for v in vals.values()):
            continue  # scenario not run (SCENARIOS) or failed everywhere
        cells = [scen, label, "higher" if higher else "lower"]
        cells += [fmt(vals[n]) for n in SERVERS]
        cells += [ratio(vals["aldis"], vals["prosody"]), ratio(vals["aldis"], vals["ejabberd"])]
        print("| " + " | ".join(cells) + " |")
    print()
    # The MUC goal: at least 3x the better of the other two in deliveries
    # per server CPU-second.
    for scen in ("muc", "muclat"):
        eff = {}
        for name in SERVERS:
            r = load(results, name, scen)
            eff[name] = per_cpu(r["delivered"], r["server_cpu_s"]) if r else None
        others = [eff[n] for n in ("prosody", "ejabberd") if eff[n]]
        if eff["aldis"] and others:
            print(f"{scen}: aldis deliveries per server CPU-s / the better of the others = "
                  f"{eff['aldis'] / max(others):.2f} (goal: 3)")
            print()
    if client_bound:
        print("Client-bound (the load generator saturated its CPU; the server's per-CPU-second "
              "figure still holds): " + ", ".join(client_bound))
        print()
    failed = []
    for name in SERVERS:
        if status.get(name) != "ok":
            continue
        for scen in SCENARIOS:
            path = os.path.join(results, f"{name}-{scen}.json")
            if os.path.exists(path) and load(results, name, scen) is None:
                failed.append(f"{name} {scen}")
    if failed:
        print("Failed runs (see the .err files): " + ", ".join(failed))


if __name__ == "__main__":
    main()
