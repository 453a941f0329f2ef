"""The ``freeagentics`` command."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from freeagentics import __version__
from freeagentics.errors import FreeAgenticsError

# plain help: typer's rich help labels every flag, --help included, as taking a <bool>
app = typer.Typer(
    help="FreeAgentics: multi-agent Active Inference at population scale.",
    rich_markup_mode=None,
)
console = Console()

#: seconds ``serve --lifeline`` gives its orderly stop, once its stdin has ended, before
#: it exits regardless (as long as the server itself gives its simulation host to stop)
LIFELINE_GRACE_S = 30.0

#: the reference models of ``demo`` (builders in :mod:`freeagentics.models.builders`);
#: the command imports them, so that ``serve`` never loads the kernels it does not run
MODELS = ("explorer", "locator")


def _print_version(value: bool) -> None:
    if value:
        console.print(f"freeagentics {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run ``freeagentics COMMAND --help`` for a command's options."""


@app.command()
def demo(
    agents: int = typer.Option(10_000, min=1, help="Number of agents."),
    ticks: int = typer.Option(200, min=1, help="Ticks to run."),
    model: str = typer.Option("explorer", help="Reference model: explorer or locator."),
    size: int = typer.Option(10, min=2, help="Grid side g (g x g hidden states)."),
    policy_len: int = typer.Option(1, min=1, max=4, help="Planning horizon."),
    seed: int = typer.Option(0, help="Seed of every random draw."),
) -> None:
    """Step a population of agents in the terminal and report what they do."""
    if model not in MODELS:
        raise typer.BadParameter(f"unknown model {model!r}; choose from {sorted(MODELS)}")
    import numpy as np
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from freeagentics.agents import Cohort, CohortConfig
    from freeagentics.models import builders
    from freeagentics.models.process import GenerativeProcess

    rng = np.random.default_rng(seed)
    gm = getattr(builders, f"{model}_model")(size, policy_len=policy_len)
    cohort = Cohort(gm, agents, CohortConfig(gamma=8.0, alpha=8.0), rng=rng)
    world = GenerativeProcess(gm, agents, rng)
    console.print(
        f"[bold]FreeAgentics demo[/]: {agents:,} {model} agents, {gm.num_states[0]} states, "
        f"{gm.num_policies} policies, seed {seed}"
    )
    tick_times = []
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} ticks"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("simulating", total=ticks, rate="")
        for _ in range(ticks):
            obs = world.observe()
            start = time.perf_counter()
            actions = cohort.step(obs)
            tick_times.append(time.perf_counter() - start)
            world.advance(actions)
            rate = agents / np.median(tick_times)
            progress.update(task, advance=1, rate=f"{rate:,.0f} agent-steps/s")
    metrics = cohort.metrics()
    table = Table(title=f"after {ticks} ticks")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("median tick", f"{np.median(tick_times) * 1e3:.2f} ms")
    table.add_row("agent-steps per second", f"{agents / np.median(tick_times):,.0f}")
    for name, values in metrics.items():
        table.add_row(f"mean {name.replace('_', ' ')}", f"{float(np.mean(values)):.3f}")
    names = (
        gm.labels.controls[0] if gm.labels.controls else tuple(map(str, range(gm.num_controls[0])))
    )
    counts = np.bincount(actions[:, 0], minlength=gm.num_controls[0])
    table.add_row("last actions", ", ".join(f"{n} {c}" for n, c in zip(names, counts, strict=True)))
    console.print(table)


# ---------------------------------------------------------------------- scenarios
err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Report a user error on stderr (no traceback); raise the returned Exit."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def _parse_seeds(text: str) -> list[int]:
    """``"0-7"``, ``"1,3,5"`` or ``"0-3,10"`` → the seeds, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise _fail(f"--seeds: expected a range 0-7 or a list 1,3,5, got {text!r}") from None
        if first < 0 or last < first:
            raise _fail(f"--seeds: {part.strip()!r} is not a range of seeds >= 0")
        seeds.extend(range(first, last + 1))
    return seeds


def _parse_sets(assignments: list[str]) -> dict[str, list]:
    """``["coalitions.strength=2,4,8", ...]`` → ``{"coalitions.strength": [2, 4, 8], ...}``."""
    from freeagentics.simulation.scenario import parse_override_values

    sets: dict[str, list] = {}
    for item in assignments:
        key, eq, values = item.partition("=")
        if not eq or not key.strip() or not values.strip():
            raise _fail(f"--set: expected KEY=VALUE[,VALUE...], got {item!r}")
        sets[key.strip()] = parse_override_values(values)
    return sets


def _load(scenario: Path, ticks: int | None, seed: int | None, sets: dict[str, list]):
    from freeagentics.simulation.scenario import load_scenario

    changes = {k: v[0] for k, v in sets.items()}
    if ticks is not None:
        changes["scenario.ticks"] = ticks
    if seed is not None:
        changes["scenario.seed"] = seed
    try:
        loaded = load_scenario(scenario).with_overrides(changes)
    except FreeAgenticsError as exc:
        raise _fail(str(exc)) from None
    for note in loaded.notes:
        err_console.print(f"[yellow]note: {scenario}: {note}[/]")
    return loaded


@app.command("run")
def run_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.toml or .json).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Per-tick results: .csv or .parquet (default: none, only the summary).",
        ),
    ] = None,
    ticks: Annotated[
        int | None, typer.Option(min=1, help="Ticks to run (default: the scenario's).")
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: the scenario's).")] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(min=1, help="Also checkpoint every K ticks (results' name with .ckpt)."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override a setting, e.g. coalitions.strength=8.",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run a scenario and write one row of metrics per tick."""
    from freeagentics.simulation.runner import run_scenario

    if checkpoint_every is not None and out is None:
        raise _fail("--checkpoint-every needs --out: the checkpoint is written beside the results")
    sets = _parse_sets(set_ or [])
    for key, values in sets.items():
        if len(values) != 1:
            raise _fail(f"--set {key}: run takes one value per key (use sweep for several)")
    loaded = _load(scenario, ticks, seed, sets)
    try:
        result = run_scenario(loaded, out, progress=progress, checkpoint_every=checkpoint_every)
    except FreeAgenticsError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{out}: {exc.strerror or exc}", code=1) from None
    table = Table(title=f"{result.name}: {result.ticks_run}/{result.ticks_requested} ticks")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("wall time", f"{result.wall_s:.2f} s")
    for key, value in result.final.items():
        if key.endswith("_mean") or key in ("agents", "coalition_members", "knowledge_nodes"):
            table.add_row(f"final {key.replace('_', ' ')}", f"{value:.4g}")
    for key in ("moving_fraction_avg", "alive_fraction", "stuck"):
        if key in result.final:
            table.add_row(f"final {key.replace('_', ' ')}", f"{result.final[key]:.4g}")
    console.print(table)
    if result.final.get("warnings"):  # the world froze or agents died: say so, loudly
        err_console.print(
            f"[bold yellow]warning:[/] at the end of the run: {result.final['warnings']} "
            "(see the warnings, moving_fraction and stuck columns)",
            soft_wrap=True,
        )
    if result.path is not None:
        console.print(f"results: {result.path}", soft_wrap=True)
    if result.checkpoint is not None:
        console.print(f"checkpoint: {result.checkpoint}", soft_wrap=True)
    if result.interrupted:
        err_console.print(f"interrupted after {result.ticks_run} ticks; rows so far written")
        raise typer.Exit(130)


@app.command("sweep")
def sweep_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.toml or .json).")],
    out_dir: Annotated[
        Path,
        typer.Option("--out-dir", help="Folder for the result files and the summary (--format)."),
    ],
    seeds: Annotated[str, typer.Option(help="Seeds: a range 0-7, a list 1,3,5, or 0-3,9.")] = "0",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=V1,V2,...",
            help="Values to sweep (repeatable); every combination is run.",
        ),
    ] = None,
    processes: Annotated[
        int, typer.Option(min=1, help="Runs at a time, each in its own process.")
    ] = 1,
    ticks: Annotated[
        int | None, typer.Option(min=1, help="Ticks per run (default: the scenario's).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Result files and summary: csv or parquet.")
    ] = "csv",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run a scenario for every seed and combination of --set values, in parallel."""
    from freeagentics.simulation.runner import sweep

    if fmt.lstrip(".") not in ("csv", "parquet"):
        raise _fail(f"--format: choose csv or parquet, not {fmt!r}")
    seed_list = _parse_seeds(seeds)
    sets = _parse_sets(set_ or [])
    base = _load(scenario, ticks, None, {})
    combos = [dict(zip(sets, values, strict=True)) for values in itertools.product(*sets.values())]
    try:
        result = sweep(
            base,
            seed_list,
            combos,
            out_dir,
            processes,
            fmt=f".{fmt.lstrip('.')}",
            progress=progress,
        )
    except FreeAgenticsError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{out_dir}: {exc.strerror or exc}", code=1) from None
    table = Table(title=f"sweep of {base.name}: {len(result.runs)} runs")
    for name in ("run", "seed", "overrides", "ticks", "wall", "status"):
        table.add_column(name, justify="left" if name in ("overrides", "status") else "right")
    for run in result.runs:
        r = run.result
        status = run.error or ("interrupted" if r and r.interrupted else "ok")
        table.add_row(
            str(run.index),
            str(run.seed),
            ", ".join(f"{k}={v}" for k, v in run.overrides.items()) or "-",
            str(r.ticks_run) if r else "-",
            f"{r.wall_s:.1f} s" if r else "-",
            status,
        )
    console.print(table)
    console.print(f"summary: {result.summary}", soft_wrap=True)
    if result.failed:
        raise _fail(f"{len(result.failed)} of {len(result.runs)} runs failed", code=1)
    if result.interrupted:
        err_console.print("interrupted; the rows of interrupted runs so far are written")
        raise typer.Exit(130)


@app.command("serve")
def serve_command(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: $FREEAGENTICS_HOST, 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Port to listen on (default: $FREEAGENTICS_PORT, 8000)."
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Create and start a demo simulation.")
    ] = True,
    migrate: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Migrate the database schema at start.")
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,  # settings.MAX_WORKERS (not imported: the CLI loads no server code to start)
            help="API worker processes on the port, sharing one simulation host (default: "
            "$FREEAGENTICS_WORKERS, 1). More than one needs PostgreSQL and Redis.",
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run each simulation in a Ray actor on the cluster at ADDRESS ('auto', "
            "HOST:PORT; default: $FREEAGENTICS_RAY_ADDRESS); needs PostgreSQL and Redis.",
        ),
    ] = None,
    lifeline: Annotated[
        bool,
        typer.Option(
            "--lifeline",
            help=f"Stop when stdin ends, as on SIGTERM (exit regardless {LIFELINE_GRACE_S:g} "
            "s later): for a program that starts the server with a pipe on its stdin, which "
            "the system closes when that program dies, so that the server never outlives it.",
        ),
    ] = False,
) -> None:
    """Start the HTTP/WebSocket server (settings from FREEAGENTICS_* variables)."""
    from pydantic import ValidationError

    from freeagentics.loadtest.fdlimit import raise_fd_limit
    from freeagentics.server.settings import Settings

    changes: dict = {"demo": demo, "auto_migrate": migrate}
    changes.update(
        {k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v is not None}
    )
    if ray is not None:
        changes.update(ray_address=ray, simulation_host="ray")
    try:  # the flags are validated with the environment, as one set of settings
        settings = Settings(**changes)
    except ValidationError as exc:
        raise _fail(f"invalid server settings: {exc}") from None
    if lifeline:  # before anything starts: the parent may be gone already
        _stop_when_stdin_ends()
    if settings.workers > 1:
        if settings.simulation_host == "ray":
            raise _fail("--workers > 1 with --ray is not supported: one API process per machine")
        _serve_workers(settings)
        return
    if settings.database_url is None:  # name the file, so nobody hunts for it
        settings = settings.model_copy(update={"database_url": settings.resolved_database_url()})
    simulation_host = migration = None
    if settings.simulation_host == "process":
        from freeagentics.hosts import LocalHostProcess
        from freeagentics.server import HOST_PROGRAM
        from freeagentics.storage import start_migration

        simulation_host = LocalHostProcess(
            HOST_PROGRAM,
            None,
            max_restarts=settings.host_max_restarts,
            call_timeout_s=settings.host_call_timeout_seconds,
        )
        simulation_host.spawn()  # it imports the simulations while this process imports the app
        if settings.auto_migrate:  # meanwhile a child brings the database to the head
            migration = start_migration(settings.database_url)

    import uvicorn

    from freeagentics.server.app import INSECURE_WARNING, create_app
    from freeagentics.server.logs import log_config
    from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL

    if settings.development:
        err_console.print(f"[bold red]WARNING: {INSECURE_WARNING}[/]")
    console.print(
        f"FreeAgentics server on http://{settings.host}:{settings.port} (docs at /docs), "
        f"database {_safe_url(settings.database_url)}"
        + (
            f", simulations on the Ray cluster at {settings.ray_address} "
            f"(namespace {settings.ray_namespace})"
            if settings.simulation_host == "ray"
            else ""
        ),
        soft_wrap=True,
    )
    raise_fd_limit()  # a connection is a descriptor: hold as many as the system allows
    server_app = create_app(settings, host=simulation_host, own_host=True)
    if migration is not None:  # the host opens the database once it is at the head
        from freeagentics.storage import MigrationFailed, finish_migration

        try:
            finish_migration(migration)
        except MigrationFailed as exc:
            assert simulation_host is not None
            simulation_host.stop()
            raise _fail(str(exc), code=1) from None
    # the WebSocket protocol that lets frames be framed once for all subscribers; frames
    # over the application's message limit are refused before they are buffered
    uvicorn.run(
        server_app,
        host=settings.host,
        port=settings.port,
        log_config=log_config(settings.log_format),
        ws=WS_PROTOCOL,
        ws_max_size=settings.ws_max_message_bytes,
    )


def _stop_when_stdin_ends() -> None:
    """``serve --lifeline``: SIGTERM this process when its stdin ends (uvicorn, or the
    supervisor of ``--workers``, then stops in order; before either listens the signal
    ends the process, and a host started meanwhile follows it), and exit regardless
    :data:`LIFELINE_GRACE_S` later."""
    import os
    import signal

    from freeagentics.lifeline import watch

    watch(lambda: os.kill(os.getpid(), signal.SIGTERM), LIFELINE_GRACE_S, "the server")


def _serve_workers(settings) -> None:
    """``serve --workers N`` (N > 1): check what it needs, then supervise until stopped."""
    from freeagentics.server.app import INSECURE_WARNING
    from freeagentics.server.supervisor import missing_for_workers, redis_unreachable, serve_workers

    n = settings.workers
    missing = missing_for_workers(settings)
    if missing:
        lines = "".join(f"\n  - {item}" for item in missing)
        raise _fail(f"--workers {n} needs PostgreSQL and Redis, which its processes share:{lines}")
    assert settings.redis_url is not None and settings.database_url is not None
    unreachable = redis_unreachable(settings.redis_url)
    if unreachable:
        raise _fail(f"--workers {n}: {unreachable}")
    if settings.development:
        err_console.print(f"[bold red]WARNING: {INSECURE_WARNING}[/]")
    console.print(
        f"FreeAgentics server on http://{settings.host}:{settings.port} (docs at /docs): "
        f"{n} API workers, one simulation host, database {_safe_url(settings.database_url)}, "
        f"Redis {_safe_url(settings.redis_url)}",
        soft_wrap=True,
    )
    code = serve_workers(settings)
    if code:
        raise typer.Exit(code)


@app.command("loadtest")
def loadtest_command(
    profile: Annotated[
        list[str] | None,
        typer.Option(
            "--profile",
            help="light, medium, heavy, stress, large, colossal or custom; repeatable or "
            "comma-separated (default: light).",
        ),
    ] = None,
    agents: Annotated[int | None, typer.Option(min=1, help="Agents (custom profile).")] = None,
    users: Annotated[int | None, typer.Option(min=1, help="Users (custom profile).")] = None,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Seconds measured per profile (default 30).")
    ] = None,
    profile_file: Annotated[
        Path | None, typer.Option(help="Profiles from a TOML file (profile tables) or a JSON list.")
    ] = None,
    soak: Annotated[
        bool, typer.Option(help="Soak: report memory growth per hour after warm-up.")
    ] = False,
    database: Annotated[str, typer.Option(help="sqlite or postgresql.")] = "sqlite",
    database_url: Annotated[
        str | None, typer.Option(help="Database URL (needed for postgresql).")
    ] = None,
    report: Annotated[Path, typer.Option(help="Folder for report.md, plots and raw/ JSON.")] = Path(
        "reports/loadtest"
    ),
    skip_engine: Annotated[bool, typer.Option(help="Skip the engine benchmark (B1).")] = False,
    skip_database: Annotated[bool, typer.Option(help="Skip the database benchmark (B3).")] = False,
    generator_processes: Annotated[
        int | None,
        typer.Option(
            min=1, help="Processes for the simulated users (default: one per 2 500, one per core)."
        ),
    ] = None,
    serve_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--serve-arg",
            help="An argument for the server's `freeagentics serve`; repeatable "
            "(--serve-arg=--workers --serve-arg=2).",
        ),
    ] = None,
) -> None:
    """Drive the real server with simulated users and write a Markdown report."""
    from freeagentics.loadtest.profiles import resolve_profiles
    from freeagentics.loadtest.runner import RunOptions, run_loadtest

    if database not in ("sqlite", "postgresql"):
        raise _fail(f"--database: choose sqlite or postgresql, not {database!r}")
    names = [n.strip() for item in (profile or []) for n in item.split(",") if n.strip()]
    if not names and profile_file is None:
        names = ["custom"] if agents and users else ["light"]
    try:
        chosen = resolve_profiles(
            names,
            agents=agents,
            users=users,
            duration_s=duration,
            profile_file=profile_file,
            soak=soak,
        )
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    options = RunOptions(
        report_dir=report,
        database=database,
        database_url=database_url,
        skip_engine=skip_engine,
        skip_database=skip_database,
        serve_args=tuple(serve_arg or ()),
        generator_processes=generator_processes,
        console=console,
    )
    try:
        path, interrupted = run_loadtest(chosen, options)
    except (RuntimeError, ValueError) as exc:
        raise _fail(str(exc), code=1) from None
    console.print(f"report: {path}", soft_wrap=True)
    if interrupted:
        err_console.print("interrupted; the report holds what was measured so far")
        _exit_now(130)


def _exit_now(code: int) -> NoReturn:
    """End the process at once: every file is written and closed, and tearing down the
    interpreter's modules (numba, matplotlib) would only keep the user waiting after
    Ctrl-C, for seconds on a busy machine."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


db_app = typer.Typer(help="Database schema: apply and inspect migrations.")
app.add_typer(db_app, name="db")
DB_URL_HELP = "Database URL (default: $FREEAGENTICS_DATABASE_URL, else a SQLite file)."


@db_app.command("upgrade")
def db_upgrade(
    url: str | None = typer.Option(None, help=DB_URL_HELP),
    revision: str = typer.Option("head", help="Target revision."),
) -> None:
    """Create or migrate the schema to REVISION (default: the newest)."""
    from freeagentics import storage  # imported here: other commands never need SQLAlchemy

    url = url or storage.default_url()
    at = storage.upgrade(url, revision)
    console.print(f"database {_safe_url(url)} at revision [bold]{at}[/]")


@db_app.command("current")
def db_current(url: str | None = typer.Option(None, help=DB_URL_HELP)) -> None:
    """Show the revision the database is at, and the newest available."""
    from freeagentics import storage

    url = url or storage.default_url()
    at = storage.current(url)
    console.print(
        f"database {_safe_url(url)} at revision [bold]{at or 'none'}[/] (head {storage.head()})"
    )


def _safe_url(url: str) -> str:
    from freeagentics.storage import display_url

    return display_url(url)


if __name__ == "__main__":  # pragma: no cover
    app()
