"""The ``freeagentics`` command."""

from __future__ import annotations

import time

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from freeagentics.agents import Cohort, CohortConfig
from freeagentics.models.builders import explorer_model, locator_model
from freeagentics.models.process import GenerativeProcess

app = typer.Typer(help="FreeAgentics: multi-agent Active Inference at population scale.")
console = Console()

MODELS = {"explorer": explorer_model, "locator": locator_model}


@app.callback()
def main() -> None:
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
    rng = np.random.default_rng(seed)
    gm = MODELS[model](size, policy_len=policy_len)
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


if __name__ == "__main__":  # pragma: no cover
    app()
