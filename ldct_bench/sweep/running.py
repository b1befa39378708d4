"""A sweep's points, all at once: checked first, then run concurrently in one event loop, then reported.

Every point is set up and checked before any request (card status, key, data, prompt fit); the problems are
listed together, one line each, and the points that can run do. Points that reach one endpoint (base URL and
key) share its budget (backends/limits.py); points that launch their own vLLM server take turns on the GPU.
A point that fails later (a revoked key, its budget) stops alone. At the end: one table, the sweep's
leaderboard, and a non-zero exit naming the points that failed. Ctrl-C stops every point; the same command
resumes them all, paying for nothing twice (each point has its own run dir, journal and lock).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from hydra.core.utils import JobReturn, configure_log, setup_globals
from hydra.types import HydraContext
from omegaconf import DictConfig
from tqdm.auto import tqdm

from ldct_bench.backends.limits import Endpoints
from ldct_bench.config.schema import Backend
from ldct_bench.data.task import TaskStore
from ldct_bench.errors import Interrupted, LowCoverage, UserError, first_line
from ldct_bench.report.sweep_callback import write_sweep_leaderboard
from ldct_bench.report.wandb_env import SWEEP_GROUP_ENV
from ldct_bench.run.interrupt import GracefulStop, StopRequested, run_stoppable
from ldct_bench.run.runner import execute, prepare
from ldct_bench.run.stage import Progress
from ldct_bench.secrets import mask_override, redact
from ldct_bench.sweep.points import Point, compose_points, merged_note, set_up
from ldct_bench.sweep.summary import summary_table

PREFIX = "ldct-bench"


class SweepFailed(UserError):
    """Some points of the sweep did not finish; the table above names them."""


class SweepBar:
    """One bar for the whole sweep (a bar per point would flood a log): items done over all points."""

    def __init__(self, total: int, points: int):
        self.bar = tqdm(total=total, desc=f"sweep ({points} points)", unit="item", dynamic_ncols=True)
        self._spent: dict[int, float] = {}

    def progress(self, number: int) -> Progress:
        """The progress callback of point `number`'s stages (run/stage.py)."""
        return partial(PointTally, self, number)

    def advance(self, number: int, spent: float | None) -> None:
        self.bar.update(1)
        if spent is not None:
            self._spent[number] = spent
            self.bar.set_postfix(cost=f"${sum(self._spent.values()):.4f}", refresh=False)

    def close(self) -> None:
        self.bar.close()


class PointTally:
    """One stage of one point, counted on the sweep's bar."""

    def __init__(self, sweep: SweepBar, number: int, label: str, total: int, done: int):
        self.sweep, self.number = sweep, number
        sweep.bar.update(done)

    def advance(self, spent: float | None) -> None:
        self.sweep.advance(self.number, spent)

    def close(self) -> None:
        return None


def say(text: str) -> None:
    print(f"{PREFIX}: {text}", file=sys.stderr, flush=True)


def check(points: list[Point], tasks: TaskStore, endpoints: Endpoints) -> None:
    """Lock and prepare every point, sending nothing; a point that cannot run keeps its problem and its dir goes."""
    notes: list[str] = []
    for point in points:
        assert point.cfg is not None
        try:
            point.run_dir.lock()  # held to the end of the sweep
        except UserError as exc:  # another process runs it: its dir is not ours to touch
            point.problem = exc
            continue
        try:
            point.prepared = prepare(point.cfg, point.run_dir, point.task_overrides, tasks=tasks, endpoints=endpoints)
        except UserError as exc:
            point.problem = exc
            continue
        notes += [note for note in point.prepared.notes if note not in notes]  # said once for the sweep
        note = merged_note(point)
        if note:
            notes.append(note)
    for note in notes:
        say(f"note: {note}")
    problems = [p for p in points if p.problem is not None]
    if problems:
        say(f"error: {len(problems)} of {len(points)} points cannot run (nothing was sent for them):")
        for point in problems:
            print(f"  #{point.number} {point.label}: {point.problem}", file=sys.stderr)


def launches_a_server(point: Point) -> bool:
    """A vLLM card without base_url starts its own server on this machine's GPU: such points take turns."""
    assert point.cfg is not None
    return point.cfg.model.backend == Backend.vllm and not point.cfg.model.base_url


async def run_points(points: list[Point], bar: SweepBar, stop: GracefulStop) -> None:
    """Execute every prepared point at once; a failure is that point's alone. After Ctrl-C every point saves
    what is in flight, then StopRequested ends the sweep."""
    gpu = asyncio.Lock()

    async def one(point: Point) -> None:
        assert point.prepared is not None
        try:
            if launches_a_server(point):
                async with gpu:
                    if stop():
                        raise StopRequested
                    point.results = await execute(point.prepared, bar.progress(point.number), stop)
            else:
                point.results = await execute(point.prepared, bar.progress(point.number), stop)
        except UserError as exc:
            point.problem = exc
        except (StopRequested, asyncio.CancelledError):
            point.interrupted = True
        except Exception as exc:  # noqa: BLE001 - a bug in one point must not cost the others their answers
            point.problem = UserError(f"internal error ({first_line(exc, typed=True)})")

    await asyncio.gather(*(one(point) for point in points if point.prepared is not None))
    if stop():
        raise StopRequested


def report(points: list[Point]) -> None:
    """Each finished point's plots and logger (W&B), one after another in this thread (W&B keeps global state)."""
    from ldct_bench.report import log_run

    group = os.environ.get(SWEEP_GROUP_ENV)
    for point in points:
        if point.results is None or point.cfg is None:
            continue
        try:
            log_run(point.cfg, point.run_dir.path, point.results, plots_in_background=True, group=group)
        except UserError as exc:
            point.problem = exc
        if (point.results.coverage or 0.0) < point.cfg.min_coverage and point.problem is None:
            point.problem = LowCoverage(f"coverage {point.results.coverage or 0.0:.0%} is below "
                                        f"min_coverage={point.cfg.min_coverage:g}")


def resume_hint() -> str:
    return "python -m ldct_bench " + " ".join(shlex.quote(mask_override(a)) for a in sys.argv[1:])


def run_sweep(context: HydraContext, config: DictConfig, job_overrides: Sequence[Sequence[str]],
              first_number: int) -> list[JobReturn]:
    """Set up, check, run and report every point; returns Hydra's job results (`overall` per job)."""
    setup_globals()
    configure_log(config.hydra.job_logging, config.hydra.verbose)  # one logging setup for all the points
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    points = compose_points(context, config, job_overrides, first_number)
    set_ups = [set_up(context, point) for point in points]
    tasks, endpoints = TaskStore(), Endpoints()
    try:
        check(points, tasks, endpoints)
        ready = [p for p in points if p.prepared is not None]
        total = sum(len(p.prepared.items) + len(p.prepared.strategy.calibration_items()) for p in ready
                    if p.prepared is not None)
        shared = [f"{redact(url)} ({len(users)} points, {gate.ceiling} requests at once)"
                  for url, gate, users in endpoints.shared() if len(users) > 1]
        say(f"sweep: {len(ready)} points at once ({total:,} items)"
            + (f"; sharing endpoints: {'; '.join(shared)}" if shared else "") + ":")
        for point in ready:
            print(f"  #{point.number} : {point.label}", file=sys.stderr)
        bar = SweepBar(total, len(ready))
        try:
            run_stoppable(lambda stop: run_points(ready, bar, stop))
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; every point's finished items are saved in its run dir. Resume all of "
                              f"them with the same command: {resume_hint()}") from None
        finally:
            bar.close()
        report(ready)
    finally:
        os.environ.pop(SWEEP_GROUP_ENV, None)  # Hydra's end-of-sweep callback, which also drops it, may not run
        for point in points:
            if point.run_dir.locked:
                if point.results is None:
                    point.run_dir.remove_unused()  # a point that never got an answer leaves nothing behind
                point.run_dir.unlock()
    print(summary_table(points))
    finished = [p.run_dir.path for p in points if p.results is not None]
    write_sweep_leaderboard(finished, Path(str(config.hydra.sweep.dir)))
    failed = [p for p in points if p.problem is not None]
    if failed:
        code = max(p.problem.exit_code for p in failed if p.problem is not None)
        error = SweepFailed(f"{len(failed)} of {len(points)} points did not finish: "
                            + ", ".join(f"#{p.number} ({p.status})" for p in failed) + "; see the table above")
        error.exit_code = code
        raise error
    return [job for point, done in zip(points, set_ups) for job in point.job_returns(done)]
