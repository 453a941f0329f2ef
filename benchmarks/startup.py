"""Startup and memory of the embedded default: ``freeagentics serve`` with its demo.

Each round starts the server as ``make run`` does (``python -m freeagentics.cli serve``,
the demo on, a fresh data folder, so SQLite; no other ``FREEAGENTICS_*`` setting) and
measures:

* ``ready_s``: seconds from the start of the command until ``/health/ready`` answers 200;
* ``ticking_s``: until the demo simulation has ticked (its ``tick`` is at least 1);
* after ``--settle`` more seconds with the demo running, the RSS, PSS and USS of every
  process of the server's tree (the API process and the simulation host it starts, or
  the one process of a server without a host), from ``psutil``'s ``memory_full_info``
  (``/proc/PID/smaps_rollup``), with its anonymous and file-backed parts; and the peak
  RSS of the tree sampled every second while settling.

PSS divides each shared page among the processes that map it, including other
programs of the machine mapping the same libraries (numba's LLVM is 111 MB of one), so
it moves with what else runs; RSS does not, but counts a page shared by the API process
and the host twice. Both are reported, and beside them ``unique_bytes``: the distinct
physical pages mapped by the tree's processes, each counted once (from
``/proc/PID/pagemap``; where page frame numbers cannot be read, None), which is what
one process's RSS is to a tree of them and does not move with other programs.
Compare revisions within one run.

With ``--ref REV [REV ...]`` the same rounds also run the code of each git revision,
checked out with ``git worktree`` into a temporary folder (removed at the end) and put
first on the import path; the revisions alternate within each round (the order turns
every round) so that the machine's load falls alike on all. Each revision first starts
once untimed, so that numba's kernel cache and the bytecode are warm, as in every start
but a checkout's first. The figures are the medians of ``--rounds`` rounds.

Prints a table and, with ``--json``, writes one record per revision and round
``{"benchmark": "startup", "case": "serve-demo", "impl": "freeagentics", "rev",
"commit", "round", "ready_s", "ticking_s", "rss_bytes", "pss_bytes", "uss_bytes",
"anon_bytes", "unique_bytes", "rss_peak_bytes", "processes", "ticks",
"load_average_1min"}`` (``processes``: ``{"role": "api" | "host" | "server", "rss_bytes",
"pss_bytes", "uss_bytes", "anon_bytes", "pss_anon_bytes", "pss_file_bytes", "threads"}``
each; ``ticks``: the demo's ticks while settling) and one ``"case": "median"`` record
per revision.

Usage::

    python benchmarks/startup.py [--rounds 5] [--settle 20] [--ref main ...] [--json out.json]
    python benchmarks/startup.py --quick      # 2 rounds, 5 s settling
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO_ROOT, fmt_bytes, machine_info, print_table, write_json
from freeagentics.loadtest.server import free_port

API = "/api/v1"
#: longest wait for a server to be ready and its demo ticking
START_TIMEOUT_S = 120.0
POLL_S = 0.05
#: what a process's smaps_rollup fields are reported as
_ROLLUP = {"Anonymous": "anon_bytes", "Pss_File": "pss_file_bytes", "Pss_Anon": "pss_anon_bytes"}


def _checkout(ref: str, stack: ExitStack) -> Path:
    """The tree of git revision ``ref`` in a temporary worktree, removed when ``stack``
    closes."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fa-startup-")))
    tree = folder / "tree"
    git = ["git", "-C", str(REPO_ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(tree), ref], check=True)
    stack.callback(subprocess.run, [*git, "worktree", "remove", "--force", str(tree)])
    return tree


def _commit(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return done.stdout.strip() + ("+changes" if dirty else "")


def _environment(tree: Path, data_dir: str) -> dict[str, str]:
    """This environment without FREEAGENTICS_* settings, the tree first on the import
    path, and a fresh data folder (so a fresh SQLite database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREEAGENTICS_")}
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else "")
    env["FREEAGENTICS_DATA_DIR"] = data_dir
    return env


def _demo_tick(client: httpx.Client) -> int | None:
    """The demo simulation's tick, or None while it is not listed or not answering."""
    try:
        r = client.get(f"{API}/simulations", timeout=5)
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    ticks = [s["tick"] for s in r.json() if s.get("name") == "demo"]
    return ticks[0] if ticks else None


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get(f"{API}/health/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _role(process: psutil.Process, root: psutil.Process) -> str:
    if process.pid == root.pid:
        return "api" if root.children() else "server"
    cmdline = " ".join(process.cmdline())
    return "host" if "hostproc" in cmdline else "other"


def _rollup(pid: int) -> dict[str, int]:
    """Fields of ``/proc/PID/smaps_rollup`` (bytes), {} where there is none."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in _ROLLUP:
                    out[_ROLLUP[key]] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def _tree(root: psutil.Process) -> list[psutil.Process]:
    return [root, *root.children(recursive=True)]


def _memory(root: psutil.Process) -> list[dict[str, Any]]:
    """RSS, PSS, USS and the anonymous and file-backed parts of each process of the tree."""
    rows = []
    for process in _tree(root):
        try:
            full = process.memory_full_info()
            rows.append(
                {
                    "role": _role(process, root),
                    "rss_bytes": full.rss,
                    "pss_bytes": full.pss,
                    "uss_bytes": full.uss,
                    "threads": process.num_threads(),
                    **_rollup(process.pid),
                }
            )
        except psutil.NoSuchProcess:
            continue
    return rows


#: a pagemap entry: bit 63 the page is present, bits 0-54 its page frame number
_PRESENT = np.uint64(1 << 63)
_PFN = np.uint64((1 << 55) - 1)


def _frames(pid: int) -> np.ndarray:
    """The page frame numbers of ``pid``'s resident pages (zeros where the kernel hides
    them from this process)."""
    page = os.sysconf("SC_PAGE_SIZE")
    found = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue  # inaccessible reservations hold no pages
            start, end = (int(x, 16) for x in span.split("-"))
            pagemap.seek(start // page * 8)
            try:
                entries = np.frombuffer(pagemap.read((end - start) // page * 8), "<u8")
            except OSError:  # [vsyscall] and the like
                continue
            found.append(entries[(entries & _PRESENT) != 0] & _PFN)
    return np.concatenate(found) if found else np.zeros(0, np.uint64)


def _unique_bytes(root: psutil.Process) -> int | None:
    """The distinct physical pages the tree maps, in bytes; None when frame numbers are
    hidden (they need CAP_SYS_ADMIN)."""
    try:
        frames = np.concatenate([_frames(p.pid) for p in _tree(root)])
    except (OSError, psutil.NoSuchProcess):
        return None
    if frames.size and not frames.any():
        return None
    return int(np.unique(frames).size) * os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    for process in _tree(root):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's session, then SIGKILL to whatever is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            continue


def measure_start(tree: Path, settle_s: float) -> dict[str, Any]:
    """Start the server of ``tree`` once; its startup times and settled memory."""
    with tempfile.TemporaryDirectory(prefix="fa-startup-data-") as data_dir:
        port = free_port()
        log_path = Path(data_dir) / "server.log"
        command = [sys.executable, "-m", "freeagentics.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--demo"]
        with log_path.open("wb") as log:
            start = time.perf_counter()
            proc = subprocess.Popen(
                command,
                cwd=tree,
                env=_environment(tree, data_dir),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                return _measure_running(proc, client, start, settle_s)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; server log: {log_path.read_text()[-2000:]}") from None
        finally:
            _stop(proc)


def _measure_running(
    proc: subprocess.Popen, client: httpx.Client, start: float, settle_s: float
) -> dict[str, Any]:
    ready_s = ticking_s = None
    deadline = start + START_TIMEOUT_S
    while ticking_s is None:
        if proc.poll() is not None or time.perf_counter() > deadline:
            raise RuntimeError("the server did not start with its demo ticking")
        if ready_s is None and _ready(client):
            ready_s = time.perf_counter() - start
        if ready_s is not None and (_demo_tick(client) or 0) >= 1:
            ticking_s = time.perf_counter() - start
        else:
            time.sleep(POLL_S)
    first_tick = _demo_tick(client) or 0
    root = psutil.Process(proc.pid)
    peak = 0
    settled = time.perf_counter() + settle_s
    while time.perf_counter() < settled:
        peak = max(peak, _tree_rss(root))
        time.sleep(min(1.0, max(0.0, settled - time.perf_counter())))
    processes = _memory(root)
    unique = _unique_bytes(root)
    ticks = (_demo_tick(client) or 0) - first_tick
    if ticks <= 0:
        raise RuntimeError("the demo stopped ticking while settling")
    record = {
        "ready_s": ready_s,
        "ticking_s": ticking_s,
        "processes": processes,
        "ticks": ticks,
        "load_average_1min": os.getloadavg()[0],
    }
    for key in ("rss_bytes", "pss_bytes", "uss_bytes", "anon_bytes"):
        record[key] = sum(p.get(key, 0) for p in processes)
    record["unique_bytes"] = unique
    record["rss_peak_bytes"] = max(peak, record["rss_bytes"])
    return record


def _median(records: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in records if r[key] is not None]
    return statistics.median(values) if values else None


def _median_record(rev: str, mine: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("ready_s", "ticking_s", "rss_bytes", "pss_bytes", "uss_bytes", "anon_bytes")
    keys += ("unique_bytes",)
    out = {k: _median(mine, k) for k in (*keys, "rss_peak_bytes", "load_average_1min")}
    roles = sorted({p["role"] for r in mine for p in r["processes"]})
    out["processes"] = [
        {
            "role": role,
            **{
                key: statistics.median(
                    p[key] for r in mine for p in r["processes"] if p["role"] == role
                )
                for key in ("rss_bytes", "pss_bytes", "uss_bytes")
            },
        }
        for role in roles
    ]
    return {
        "benchmark": "startup",
        "case": "median",
        "impl": "freeagentics",
        "rev": rev,
        "commit": mine[0]["commit"],
        "rounds": len(mine),
        **out,
    }


def _row(record: dict[str, Any]) -> list[str]:
    parts = ", ".join(
        f"{p['role']} {fmt_bytes(p['rss_bytes'])}/{fmt_bytes(p['pss_bytes'])}"
        for p in record["processes"]
    )
    return [
        f"{record['rev']} ({record['commit']})",
        f"{record['ready_s']:.2f} s",
        f"{record['ticking_s']:.2f} s",
        fmt_bytes(record["rss_bytes"]),
        fmt_bytes(record["pss_bytes"]),
        fmt_bytes(record["uss_bytes"]),
        fmt_bytes(record["unique_bytes"]),
        fmt_bytes(record["rss_peak_bytes"]),
        f"{record['load_average_1min']:.2f}",
        parts,
    ]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds of demo before memory")
    parser.add_argument(
        "--ref", nargs="+", default=[], help="also measure these git revisions, alternately"
    )
    parser.add_argument("--no-warmup", action="store_true", help="no untimed first start")
    parser.add_argument("--quick", action="store_true", help="2 rounds, 5 s settling")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.settle = 2, 5.0
    records: list[dict[str, Any]] = []
    with ExitStack() as stack:
        trees = {"this": REPO_ROOT}
        for ref in args.ref:
            trees[ref] = _checkout(ref, stack)
        commits = {rev: _commit(tree) for rev, tree in trees.items()}
        if not args.no_warmup:
            for tree in trees.values():
                measure_start(tree, settle_s=1.0)
        for round_ in range(args.rounds):
            names = list(trees)
            shift = round_ % len(names)
            order = names[shift:] + names[:shift]
            for rev in order:
                record = measure_start(trees[rev], args.settle)
                record.update(
                    benchmark="startup",
                    case="serve-demo",
                    impl="freeagentics",
                    rev=rev,
                    commit=commits[rev],
                    round=round_,
                    settle_s=args.settle,
                )
                records.append(record)
                print(
                    f"round {round_} {rev}: ready {record['ready_s']:.2f} s, ticking "
                    f"{record['ticking_s']:.2f} s, RSS {fmt_bytes(record['rss_bytes'])}, "
                    f"PSS {fmt_bytes(record['pss_bytes'])}, unique "
                    f"{fmt_bytes(record['unique_bytes'])} (load {record['load_average_1min']:.2f})",
                    flush=True,
                )
    medians = [_median_record(rev, [r for r in records if r["rev"] == rev]) for rev in trees]
    columns = ["revision", "ready", "ticking", "RSS", "PSS", "USS", "unique", "peak RSS", "load 1m"]
    print_table(
        f"serve with the demo: median of {args.rounds} rounds, memory after {args.settle:g} s",
        [*columns, "per process RSS/PSS"],
        [_row(m) for m in medians],
    )
    records += medians
    info = machine_info()
    for r in records:
        r.update(info)
    if args.json:
        write_json(args.json, records)
    return records


if __name__ == "__main__":
    main()
