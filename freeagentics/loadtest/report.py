"""The Markdown report and its PNG plots, built only from the raw JSON files beside it.

``write_report(DIR)`` reads ``DIR/raw/profile-*.json`` (one per load profile, written by
:mod:`.runner`), ``DIR/raw/latencies-*.json`` (every latency sample), and, when present,
``DIR/raw/engine.json`` (B1) and ``DIR/raw/database.json`` (B3), and writes
``DIR/report.md`` with the sections of the original report plus ``DIR/*.png``. Every
figure in the Markdown is computed here from those files by the functions below (a
test recomputes them), so a number can always be traced to its raw record.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt

from freeagentics.loadtest.histogram import LatencyRecord
from freeagentics.loadtest.thresholds import (
    BANDS,
    LIMIT_RULES,
    THRESHOLDS,
    Load,
    evaluate,
    generator_limits,
    limit_of,
    status_band,
)

__all__ = ["cpu_shares", "figures", "judged_p95", "load_raw", "ms", "write_report"]

BAND_ICONS = {"optimal": "✅", "acceptable": "⚠️", "severe": "❌", "failure": "💥"}
IMPACT_BANDS = (("Critical", 50.0), ("High", 25.0), ("Medium", 10.0), ("Low", 0.0))
DB_CLASSES = (
    ("simple-select", "Simple SELECT"),
    ("complex-join", "Complex JOIN"),
    ("bulk-insert", "Bulk INSERT"),
    ("knowledge-graph", "Knowledge Graph"),
)


# ---------------------------------------------------------------------- formatting
def ms(value: float | None) -> str:
    """Milliseconds as printed in the report (``-`` when not measured)."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.1f} ms" if value >= 1 else f"{value:.3f} ms"


def num(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


# ---------------------------------------------------------------------- loading
def load_raw(report_dir: Path) -> dict[str, Any]:
    """Every raw file of ``report_dir/raw``: profiles (ordered by load), engine, database."""
    raw = Path(report_dir) / "raw"
    profiles = []
    for path in raw.glob("profile-*.json"):
        (record,) = json.loads(path.read_text())
        lat_path = raw / f"latencies-{record['case']}.json"
        latencies = json.loads(lat_path.read_text()) if lat_path.exists() else {}
        profiles.append({"path": path.name, "record": record, "latencies": latencies})
    profiles.sort(key=lambda p: (p["record"]["n"], p["record"]["profile"]["users"]))

    def optional(name: str) -> list[dict[str, Any]]:
        path = raw / name
        return json.loads(path.read_text()) if path.exists() else []

    return {
        "profiles": profiles,
        "engine": optional("engine.json"),
        "db": optional("database.json"),
    }


# ---------------------------------------------------------------------- derived figures
def _window(record: dict[str, Any]) -> list[dict[str, Any]]:
    lo, hi = record["window"]
    if lo is None:
        return []
    return [s for s in record["samples"] if lo <= s["t"] <= hi]


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def judged_p95(rest: dict[str, Any], ping: dict[str, Any]) -> float | None:
    """The p95 a profile's band is judged on: the worse of REST's and the ping's, or None
    (a failure) when either completed nothing -- no answer is no sign of speed."""
    p95s = (rest.get("p95"), ping.get("p95"))
    return None if None in p95s else max(p95s)


def cpu_shares(record: dict[str, Any]) -> dict[str, Any]:
    """Mean CPU over the measured window, % of one core, from the cumulative CPU seconds of
    the first and last samples inside it: ``server`` (its whole process tree),
    ``server_by_pid`` (each of its processes), ``generator``, ``harness`` (the load
    test's own process), ``machine`` (% of all cores) and ``others`` (what the machine's
    cores did besides these three: other work on a shared machine).

    Records without cumulative seconds (older runs) fall back to the samples' means.
    """
    win = _window(record)
    cores = (record.get("machine") or {}).get("cpu_count") or 1
    out: dict[str, Any] = {"cores": cores, "server_by_pid": {}}
    out["machine"] = _mean([s.get("machine_cpu_percent") for s in win])
    if len(win) < 2 or "server_cpu_s" not in win[0]:
        out["server"] = _mean([s.get("server_cpu_percent") for s in win])
        out["generator"] = _mean([s.get("clients_cpu_percent") for s in win])
        out["harness"] = None
        out["server_busiest"] = out["server"]
        out["others"] = None
        return out
    first, last = win[0], win[-1]
    dt = last["t"] - first["t"]
    for key, prefix in (("server", "server"), ("generator", "clients"), ("harness", "harness")):
        out[key] = 100 * (last[f"{prefix}_cpu_s"] - first[f"{prefix}_cpu_s"]) / dt
    before = first.get("server_cpu_s_by_pid", {})
    out["server_by_pid"] = {
        pid: 100 * (cum - before.get(pid, 0.0)) / dt
        for pid, cum in last.get("server_cpu_s_by_pid", {}).items()
    }
    out["server_busiest"] = max(out["server_by_pid"].values(), default=out["server"])
    machine = out["machine"]
    ours = out["server"] + out["generator"] + out["harness"]
    out["others"] = None if machine is None else max(0.0, machine * cores - ours)
    return out


def _diff(record: dict[str, Any], name: str) -> float | None:
    start, end = record.get("metrics_start") or {}, record.get("metrics_end") or {}
    if name in start and name in end:
        return end[name] - start[name]
    return None


def _slope_mb_per_hour(samples: list[dict[str, Any]]) -> float | None:
    """Least-squares slope of server RSS after warm-up (the window's first quarter dropped)."""
    if len(samples) < 4:
        return None
    t0, t1 = samples[0]["t"], samples[-1]["t"]
    kept = [s for s in samples if s["t"] >= t0 + (t1 - t0) / 4 and s["server_rss_mb"]]
    if len(kept) < 3:
        return None
    xs = [s["t"] for s in kept]
    ys = [s["server_rss_mb"] for s in kept]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx * 3600


def stage_seconds(record: dict[str, Any]) -> dict[str, float]:
    """Seconds per tick stage summed over the metrics frames received in the window."""
    lo, hi = record["window"]
    totals: dict[str, float] = {}
    for tick in record["stage_ticks"]:
        if "probe_error" in tick or lo is None or not lo <= tick["t"] <= hi:
            continue
        for k, v in tick.items():
            if k not in ("t", "tick"):
                totals[k] = totals.get(k, 0.0) + v
    return totals


def server_breakdown(record: dict[str, Any]) -> dict[str, float]:
    """Where the server's time went in the window, in seconds.

    Tick stages from the probe's frames, scaled to every tick the server ran (the probe
    sees at most one frame per frame interval); storage writes from
    ``freeagentics_db_write_seconds``; and "request and WebSocket handling" = the
    server's CPU seconds (``process_cpu_seconds_total``) minus the two.
    """
    stages = stage_seconds(record)
    tick_sum = _diff(record, "freeagentics_tick_duration_seconds_sum") or 0.0
    seen = sum(stages.values())
    scale = tick_sum / seen if seen > 0 else 0.0
    out = {f"tick: {k}": v * scale for k, v in stages.items()}
    db = _diff(record, "freeagentics_db_write_seconds_sum") or 0.0
    out["storage writes"] = db
    cpu = _diff(record, "process_cpu_seconds_total")
    if cpu is not None:
        out["request and WebSocket handling"] = max(0.0, cpu - tick_sum - db)
    return out


def figures(profile: dict[str, Any]) -> dict[str, Any]:
    """Every number the report prints about one profile, from its raw record."""
    r = profile["record"]
    u = r["users"]
    lat = u.get("latency", {})
    win = _window(r)
    elapsed = u.get("elapsed_s") or 0.0
    errors = sum(u.get("errors", {}).values())
    ops = u.get("operations", 0) + errors
    error_pct = 100.0 * errors / ops if ops else 0.0
    rest, ping, cmd = lat.get("rest", {}), lat.get("ws_ping", {}), lat.get("command", {})
    worst_p95 = judged_p95(rest, ping)
    ticks = _diff(r, "freeagentics_tick_duration_seconds_count")
    tick_sum = _diff(r, "freeagentics_tick_duration_seconds_sum")
    connected = u.get("connected", 0)
    agents = r["n"]
    cpu = cpu_shares(r)
    band = status_band(worst_p95, error_pct)
    load = Load(
        cores=cpu["cores"],
        server_cpu=cpu["server"] or 0.0,
        server_busiest=cpu["server_busiest"] or 0.0,
        generator_cpu=cpu["generator"] or 0.0,
        generator_processes=r.get("workers") or 1,
        machine_cpu=cpu["machine"] or 0.0,
        loop_lag_p95_ms=lat.get("loop_lag", {}).get("p95"),
        worst_p95_ms=worst_p95,
        band=band,
    )
    loads = [s.get("load_1m") for s in win if s.get("load_1m") is not None]
    out = {
        "name": r["case"],
        "agents": agents,
        "users": r["profile"]["users"],
        "interrupted": r["interrupted"],
        "elapsed_s": elapsed,
        "server_cpu_mean": cpu["server"],
        "server_cpu_max": max((s["server_cpu_percent"] or 0 for s in win), default=None),
        "server_busiest": cpu["server_busiest"],
        "server_by_pid": cpu["server_by_pid"],
        "server_labels": r.get("server_processes", {}),
        "machine_cpu_mean": cpu["machine"],
        "clients_cpu_mean": cpu["generator"],
        "harness_cpu_mean": cpu["harness"],
        "others_cpu_mean": cpu["others"],
        "cores": cpu["cores"],
        "generator_processes": load.generator_processes,
        "load_1m": (loads[0], loads[-1]) if loads else None,
        "loop_lag": lat.get("loop_lag", {}),
        "http": u.get("http", {}),
        "server_rss_peak": max((s["server_rss_mb"] or 0 for s in win), default=None),
        "clients_rss_peak": max((s["clients_rss_mb"] for s in win), default=None),
        "machine_memory_peak": max((s["machine_memory_percent"] for s in win), default=None),
        "rest": rest,
        "ping": ping,
        "command": cmd,
        "errors": errors,
        "error_pct": error_pct,
        "requests_per_s": (rest.get("count") or 0) / elapsed if elapsed else None,
        "frames_per_s": u.get("frames", 0) / elapsed if elapsed else None,
        "connected": connected,
        "ticks_per_s": ticks / elapsed if ticks is not None and elapsed else None,
        "tick_ms_mean": 1e3 * tick_sum / ticks if ticks else None,
        "bytes_per_agent": (r["rss_agents_mb"] - r["rss_empty_mb"]) * 2**20 / agents,
        "bytes_per_connection": (
            (r["rss_connected_mb"] - r.get("rss_stepped_mb", r["rss_agents_mb"]))
            * 2**20
            / connected
            if connected and r["rss_connected_mb"] is not None
            else None
        ),
        "growth_mb_per_h": _slope_mb_per_hour(win),
        "breakdown": server_breakdown(r),
        "worst_p95": worst_p95,
        "band": band,
        "limit": limit_of(load),
        "limit_reasons": generator_limits(load),
    }
    out["thresholds"] = evaluate(
        {
            "cpu": out["server_busiest"],
            "memory": out["machine_memory_peak"],
            "response": rest.get("p95"),
            "errors": error_pct,
        }
    )
    return out


# ---------------------------------------------------------------------- sections
def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _engine_section(engine: list[dict[str, Any]]) -> list[str]:
    out = ["## 1. Multi-agent scaling efficiency", ""]
    cells = [r for r in engine if r.get("tick_s_median") is not None]
    if not cells:
        return [*out, "Not measured in this run (`--skip-engine`).", ""]
    out += [
        "E(N) = throughput(N) / (N × throughput(1)) = t(1) / t(N), with t the median tick",
        "of N agents and throughput = N / t (agent-steps per second); each implementation's",
        "t(1) is from the same run. Source: `raw/engine.json` (BENCHMARKS.md B1,",
        f"case `{cells[0]['case']}`); peers where installed ran on the same model arrays.",
        "",
    ]
    rows = [
        [
            r["impl"],
            f"{r['n']:,}",
            ms(r["tick_s_median"] * 1e3),
            num(r["agent_steps_per_s"]),
            pct(100 * r["efficiency"]) if r.get("efficiency") is not None else "-",
            num(r.get("bytes_per_agent")),
        ]
        for r in cells
    ]
    header = ["implementation", "N", "tick (median)", "agent-steps/s", "E(N)", "bytes/agent"]
    out += _table(header, rows)
    return [*out, "", "![efficiency and throughput](efficiency_throughput.png)", ""]


def _database_section(db: list[dict[str, Any]], profiles: list[dict[str, Any]]) -> list[str]:
    out = ["## 2. Database performance", ""]
    if db:
        out += ["Query latencies from `raw/database.json` (BENCHMARKS.md B3, `--quick` data set:"]
        out += ["1/100 of the full data).", ""]
        rows = []
        for case, label in DB_CLASSES:
            for r in (x for x in db if x["case"] == case):
                row = [label, r["impl"], ms(r.get("latency_ms_avg")), ms(r.get("latency_ms_p95"))]
                rows.append([*row, ms(r.get("latency_ms_max"))])
        out += _table(["operation", "backend", "avg", "95th %ile", "max"], rows)
        for r in (x for x in db if x["case"] == "concurrency"):
            ops = r.get("n", "?")
            out += ["", f"- {r['impl']}: {r.get('errors')} errors in {ops} concurrent operations."]
    else:
        out += ["B3 not run (`--skip-database`)."]
    out += [
        "",
        "Server-side storage writes during the load profiles (`freeagentics_db_write_seconds`):",
    ]
    out += [""]
    rows = []
    for p in profiles:
        count = _diff(p["record"], "freeagentics_db_write_seconds_count")
        total = _diff(p["record"], "freeagentics_db_write_seconds_sum")
        mean = 1e3 * total / count if count else None
        rows.append([p["record"]["case"], num(count), ms(mean)])
    return [*out, *_table(["profile", "writes", "mean write"], rows), ""]


def _websocket_section(figs: list[dict[str, Any]]) -> list[str]:
    out = [
        "## 3. WebSocket performance",
        "",
        "Every user holds one connection subscribed to the world topic (MessagePack);",
        "ping → pong and command → ack are true round trips matched by the client's id.",
        "",
    ]
    rows = [
        [
            f["name"],
            f"{f['connected']:,}",
            num(f["frames_per_s"]),
            ms(f["ping"].get("avg")),
            ms(f["ping"].get("p99")),
            ms(f["command"].get("avg")),
            ms(f["command"].get("p99")),
            num(f["bytes_per_connection"]),
        ]
        for f in figs
    ]
    header = ["profile", "connections", "frames/s delivered", "ping avg", "ping p99"]
    header += ["command avg", "command p99", "server bytes/connection"]
    return [*out, *_table(header, rows), ""]


def _memory_section(figs: list[dict[str, Any]], engine: list[dict[str, Any]]) -> list[str]:
    out = ["## 4. Memory usage", ""]
    rows = []
    ours = [r for r in engine if r.get("impl") == "freeagentics" and r.get("bytes_per_agent")]
    if ours:
        big = max(ours, key=lambda r: r["n"])
        rows.append(
            [
                f"Agent (engine, N = {big['n']:,})",
                num(big["bytes_per_agent"]),
                "-",
                "raw/engine.json",
            ]
        )
    for f in figs:
        src = f"raw/profile-{f['name']}.json"
        growth = f["growth_mb_per_h"]
        rows.append(
            [
                f"Agent (server, {f['name']}, N = {f['agents']:,})",
                num(f["bytes_per_agent"]),
                "-",
                src,
            ]
        )
        rows.append(
            [f"WebSocket client (server, {f['name']})", num(f["bytes_per_connection"]), "-", src]
        )
        rows.append(
            [
                f"Server processes ({f['name']})",
                num((f["server_rss_peak"] or 0) * 2**20),
                f"{growth:+.1f} MB/hour" if growth is not None else "-",
                src,
            ]
        )
    out += _table(["component", "bytes per instance", "growth", "source"], rows)
    out += [
        "",
        "Agent and WebSocket-client figures are RSS differences of the server (all its",
        "processes; before and after creating the simulation, and after its first tick and",
        "after the users connected), divided by the",
        "count. Growth is the least-squares slope of server RSS over the measured window",
        "after its first quarter (warm-up); runs of a few seconds make it a rough figure —",
        "use `--soak` for a real rate. Coalitions and knowledge nodes are not created in",
        "numbers large enough to measure per instance in these runs.",
        "",
        "![memory over time](memory_over_time.png)",
        "",
    ]
    return out


def _cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} %"


def _profiles_section(figs: list[dict[str, Any]]) -> list[str]:
    out = [
        "## 5. Performance profiles by load scenario",
        "",
        "CPU in % of one core, mean over the measured window from cumulative CPU seconds:",
        "server = every process of the server (its process tree; the count in brackets),",
        "generator = the simulated users' processes (their count in brackets). Memory: the",
        "server's RSS peak. Response: REST p50/p95/p99 and WebSocket ping p95; WS msg/s:",
        "world frames delivered to the users per second. Status band on the worse p95 of",
        "REST and ping: "
        + ", ".join(f"{n} < {limit:g} ms" for n, limit in BANDS)
        + ", else failure (also at ≥ 5 % errors, or when REST calls or pings completed none).",
        "Limit: see below.",
        "",
    ]
    rows = []
    for f in figs:
        procs = max(1, len(f["server_by_pid"]))
        rows.append(
            [
                f["name"] + (" (interrupted)" if f["interrupted"] else ""),
                f"{f['agents']:,}",
                f"{f['users']:,}",
                f"{_cpu(f['server_cpu_mean'])} ({procs})",
                f"{_cpu(f['clients_cpu_mean'])} ({f['generator_processes']})",
                f"{num(f['server_rss_peak'])} MB",
                ms(f["rest"].get("p50")),
                ms(f["rest"].get("p95")),
                ms(f["rest"].get("p99")),
                ms(f["ping"].get("p95")),
                num(f["requests_per_s"]),
                num(f["frames_per_s"]),
                f"{f['errors']} ({pct(f['error_pct'])})",
                f"{BAND_ICONS[f['band']]} {f['band']}",
                f["limit"],
            ]
        )
    header = ["profile", "agents", "users", "server CPU", "generator CPU", "server memory"]
    header += ["REST p50", "REST p95", "REST p99", "ping p95", "REST req/s", "WS msg/s"]
    header += ["errors", "status", "limit"]
    out += _table(header, rows)
    out += ["", "![latency percentiles](latency_percentiles.png)", ""]
    return out + _limit_section(figs)


def _limit_section(figs: list[dict[str, Any]]) -> list[str]:
    out = [
        "### Server or generator: who was the limit",
        "",
        f"Rule (`freeagentics.loadtest.thresholds.generator_limits`): {LIMIT_RULES}",
        "",
        "Per profile: the server's processes (mean CPU each), the generator's CPU against its",
        "capacity, the load test's own process (harness), what other work on the machine",
        "used (the machine's cores minus these), the 1-minute load average at the start and",
        "end of the window, the generator's loop lag (how late its timers fired) and its",
        "REST connections (limit, opened, requests that queued for one, retried).",
        "",
    ]
    rows = []
    for f in figs:
        labels = f["server_labels"]
        by_pid = ", ".join(
            f"{labels.get(pid, 'pid ' + pid)}: {_cpu(v)}"
            for pid, v in sorted(f["server_by_pid"].items(), key=lambda kv: -kv[1])
        )
        capacity = 100 * min(f["generator_processes"], f["cores"])
        gen = f["clients_cpu_mean"]
        share = "-" if gen is None else f"{_cpu(gen)} of {capacity} %"
        load = f["load_1m"]
        http = f["http"]
        lag = f["loop_lag"]
        rows.append(
            [
                f["name"],
                by_pid or _cpu(f["server_cpu_mean"]),
                share,
                _cpu(f["harness_cpu_mean"]),
                _cpu(f["others_cpu_mean"]),
                "-" if load is None else f"{load[0]:.2f} → {load[1]:.2f}",
                f"{ms(lag.get('p95'))} / {ms(lag.get('p99'))}",
                " / ".join(str(http.get(k, "-")) for k in ("limit", "opened", "queued", "retried")),
                f["limit"] + ("".join(f"; {r}" for r in f["limit_reasons"])),
            ]
        )
    header = ["profile", "server processes", "generator", "harness", "other work"]
    header += ["load avg", "loop lag p95/p99", "REST conns", "limit"]
    return [*out, *_table(header, rows), ""]


def _bottleneck_section(figs: list[dict[str, Any]]) -> list[str]:
    out = [
        "## 6. Prioritized bottlenecks by impact",
        "",
        "Share of the server's busy time in the measured window (see `server_breakdown`:",
        "tick stages from the `metrics` topic's timings scaled to all ticks, storage writes",
        "and the rest of the server's CPU time). Ranked on the most loaded profile; impact",
        "bands as in the original: critical > 50 %, high 25–50 %, medium 10–25 %, low < 10 %.",
        "",
    ]
    if not figs:
        return [*out, "No profile measured.", ""]
    names = [f["name"] for f in figs]
    shares = []
    for f in figs:
        total = sum(f["breakdown"].values())
        shares.append({k: 100 * v / total for k, v in f["breakdown"].items()} if total else {})
    ranked = sorted(shares[-1], key=lambda k: -shares[-1][k])
    rows = []
    for i, key in enumerate(ranked, 1):
        band = next(b for b, lo in IMPACT_BANDS if shares[-1][key] > lo or lo == 0.0)
        rows.append([str(i), key, band, *(pct(s.get(key)) for s in shares)])
    return [*out, *_table(["rank", "stage", "impact", *names], rows), ""]


def _thresholds_section(figs: list[dict[str, Any]]) -> list[str]:
    out = [
        "## 7. Monitoring thresholds, evaluated over the run",
        "",
        "The same thresholds ship as Prometheus alerting rules in `deploy/prometheus/alerts.yml`.",
        "",
    ]
    out += _table(
        ["threshold", "measured as", "alert", "critical"],
        [
            [t.name, t.what, f"{t.alert:g} {t.unit}", f"{t.critical:g} {t.unit}"]
            for t in THRESHOLDS.values()
        ],
    )
    out.append("")
    rows = []
    for f in figs:
        for t in f["thresholds"]:
            value = "-" if t["value"] is None else f"{t['value']:.1f} {t['unit']}"
            rows.append([f["name"], t["name"], value, t["level"]])
    return [*out, *_table(["profile", "threshold", "value", "level"], rows), ""]


def _machine_section(profiles: list[dict[str, Any]], engine: list[dict[str, Any]]) -> list[str]:
    source = profiles[0]["record"]["machine"] if profiles else (engine[0] if engine else {})
    keys = ("cpu_count", "cpu_count_physical", "memory_total_gb", "platform", "python_version")
    rows = [[k, str(source.get(k, "-"))] for k in keys]
    db = profiles[0]["record"]["database"] if profiles else "-"
    rows.append(["database", db])
    nices = sorted({str(p["record"].get("nice", "-")) for p in profiles})
    rows.append(["scheduling priority of the load test (nice)", ", ".join(nices) or "-"])
    out = ["## 8. Machine", "", *_table(["property", "value"], rows), ""]
    out += [
        "Server, user processes and benchmarks share this machine: the users' CPU competes",
        "with the server's (section 5 says how much each took, and flags the profiles where",
        "the generator rather than the server was the limit). Other work may share it too:",
        "section 5 shows what it used; a negative nice above means the load test (server and",
        "users) was given precedence over it.",
        "",
        "## Raw files",
        "",
    ]
    out += [f"- `raw/{p['path']}`, `raw/latencies-{p['record']['case']}.json`" for p in profiles]
    out += ["- `raw/engine.json`, `raw/engine.log`" if engine else ""]
    out += ["- `raw/database.json`, `raw/database.log` (when B3 ran)", ""]
    return out


# ---------------------------------------------------------------------- plots
def _plot_engine(engine: list[dict[str, Any]], path: Path) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for impl in dict.fromkeys(r["impl"] for r in engine):
        cells = [r for r in engine if r["impl"] == impl and r.get("tick_s_median") is not None]
        ns = [r["n"] for r in cells]
        a.plot(ns, [r["efficiency"] for r in cells], marker="o", label=impl)
        b.plot(ns, [r["agent_steps_per_s"] for r in cells], marker="o", label=impl)
    for ax, title in ((a, "scaling efficiency E(N)"), (b, "agent-steps per second")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("agents N")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_latency(figs: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(11, 4))
    kinds = (("rest", "REST"), ("ping", "WS ping"), ("command", "command"))
    qs = ("p50", "p95", "p99")
    width = 0.8 / (len(kinds) * len(qs))
    for i, f in enumerate(figs):
        for j, (kind, label) in enumerate(kinds):
            for k, q in enumerate(qs):
                value = f[kind].get(q)
                if value is None:
                    continue
                x = i + (j * len(qs) + k) * width - 0.4
                ax.bar(
                    x,
                    value,
                    width,
                    color=f"C{j}",
                    alpha=0.4 + 0.3 * k,
                    label=f"{label} {q}" if i == 0 else None,
                )
    ax.set_xticks(range(len(figs)), [f["name"] for f in figs])
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    ax.set_title("latency percentiles per profile (exact, nearest rank)")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_memory(profiles: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    for p in profiles:
        s = [x for x in p["record"]["samples"] if x["server_rss_mb"]]
        ax.plot([x["t"] for x in s], [x["server_rss_mb"] for x in s], label=p["record"]["case"])
    ax.set_xlabel("seconds since the sampler started")
    ax.set_ylabel("server RSS (MB)")
    ax.set_title(
        "server memory over time"
        + (" (soak)" if any(p["record"]["profile"]["soak"] for p in profiles) else "")
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(report_dir: str | Path) -> Path:
    """Write ``report.md`` and the plots into ``report_dir``; the Markdown's path."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    raw = load_raw(report_dir)
    profiles, engine, db = raw["profiles"], raw["engine"], raw["db"]
    figs = [figures(p) for p in profiles]
    lines = [
        "# FreeAgentics load test report",
        "",
        "Measured by `freeagentics loadtest`; every figure below is computed from the raw",
        "JSON files in `raw/` (see the list at the end).",
        "",
    ]
    if any(f["interrupted"] for f in figs):
        lines += [
            "**Interrupted run:** the marked profiles hold what was measured before Ctrl-C.",
            "",
        ]
    lines += _engine_section(engine)
    lines += _database_section(db, profiles)
    lines += _websocket_section(figs)
    lines += _memory_section(figs, engine)
    lines += _profiles_section(figs)
    lines += _bottleneck_section(figs)
    lines += _thresholds_section(figs)
    soak = [f for f in figs if profiles[figs.index(f)]["record"]["profile"]["soak"]]
    if soak:
        lines += ["## Soak", ""]
        for f in soak:
            g = f["growth_mb_per_h"]
            lines.append(
                f"- {f['name']}: server memory growth after warm-up "
                f"{'-' if g is None else f'{g:+.1f} MB/hour'} over {f['elapsed_s']:.0f} s."
            )
        lines.append("")
    lines += _machine_section(profiles, engine)
    if engine:
        _plot_engine(
            [r for r in engine if r.get("tick_s_median") is not None],
            report_dir / "efficiency_throughput.png",
        )
    if figs:
        _plot_latency(figs, report_dir / "latency_percentiles.png")
        _plot_memory(profiles, report_dir / "memory_over_time.png")
    path = report_dir / "report.md"
    path.write_text("\n".join(line for line in lines) + "\n")
    return path


def recompute_rest_p50(report_dir: str | Path, profile: str) -> float | None:
    """REST p50 straight from the latency samples file (for checking the report)."""
    doc = json.loads((Path(report_dir) / "raw" / f"latencies-{profile}.json").read_text())
    return LatencyRecord.from_json(doc["rest"]).summary()["p50"]
