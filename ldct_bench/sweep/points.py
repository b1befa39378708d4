"""The points of a sweep, set up the way Hydra sets up a job, and what became of each.

Points whose settings differ only in what cannot change an answer (concurrency, timeouts, loggers) have the
same run dir: they are one run, set up and run once, and the user is told so once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, run_job
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf, open_dict

from ldct_bench.errors import UserError
from ldct_bench.run.results import Results
from ldct_bench.run.rundir import RunDir
from ldct_bench.run.runner import Prepared
from ldct_bench.secrets import mask_override, scrub_hydra_outputs


@dataclass
class Point:
    """One run of the sweep (with the numbers of the points that turned out to be the same run)."""

    number: int  # Hydra's job number
    overrides: list[str]  # as given on the command line for this point
    config: DictConfig  # with its hydra node, as Hydra composed it
    run_dir: RunDir
    merged: list[tuple[int, list[str]]] = field(default_factory=list)  # (number, overrides) of the same run
    cfg: DictConfig | None = None  # the task config (no hydra node), once set up
    task_overrides: list[str] = field(default_factory=list)
    prepared: Prepared | None = None
    results: Results | None = None
    problem: UserError | None = None  # why it did not run or did not finish
    interrupted: bool = False

    @property
    def label(self) -> str:
        """The point's own overrides, masked: how the user named it."""
        return " ".join(mask_override(o) for o in self.overrides if not o.startswith("hydra.")) or "(defaults)"

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.problem is not None:
            return "not started" if self.prepared is None else "failed"
        return "done" if self.results is not None else "pending"

    def job_returns(self, set_up: JobReturn) -> list[JobReturn]:
        """What Hydra's sweeper gets for this point and the points merged into it: `overall`, or None."""
        overall = self.results.overall if self.results is not None else None
        returns = []
        for overrides in [self.overrides, *(o for _, o in self.merged)]:
            job = JobReturn(overrides=overrides, cfg=set_up.cfg, hydra_cfg=set_up.hydra_cfg,
                            working_dir=set_up.working_dir, task_name=set_up.task_name, status=JobStatus.COMPLETED)
            job.return_value = overall
            returns.append(job)
        return returns


def output_dir(config: DictConfig) -> Path:
    """Where Hydra puts a sweep job: the sweep dir and the job's subdir (the run's identity)."""
    sweep = config.hydra.sweep
    return (Path(str(sweep.dir)) / str(sweep.subdir)).resolve()


def compose_points(context: HydraContext, config: DictConfig, job_overrides: Sequence[Sequence[str]],
                   first_number: int) -> list[Point]:
    """Every point Hydra's sweeper asked for, composed; points with one run dir merged into the first."""
    points: list[Point] = []
    by_dir: dict[Path, Point] = {}
    for offset, overrides in enumerate(job_overrides):
        number = first_number + offset
        sweep_config = context.config_loader.load_sweep_config(config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = number
            sweep_config.hydra.job.num = number
        where = output_dir(sweep_config)
        if where in by_dir:
            check_mergeable(by_dir[where], number, sweep_config)
            by_dir[where].merged.append((number, list(overrides)))
            continue
        point = by_dir[where] = Point(number, list(overrides), sweep_config, RunDir(where))
        points.append(point)
    return points


# What one run must agree on to be one run: how many items, its budget, and where its data is.
SAME_RUN = ("limit", "max_cost", "min_coverage", "task.path", "task.hub_id", "batch")


def check_mergeable(point: Point, number: int, config: DictConfig) -> None:
    """Two points with one run dir are one run only if they agree on the run's own limits and data."""
    differ = [f"{key} ({OmegaConf.select(point.config, key)} and {OmegaConf.select(config, key)})" for key in SAME_RUN
              if OmegaConf.select(point.config, key) != OmegaConf.select(config, key)]
    if differ:
        raise UserError(f"points #{point.number} and #{number} would be one run ({point.run_dir}) but differ in "
                        f"{', '.join(differ)}; sweep over those in separate commands (or set hydra.sweep.subdir)")


def set_up(context: HydraContext, point: Point) -> JobReturn:
    """What Hydra does for a job before running it: the run dir, `.hydra/` (secrets masked), the task config."""

    def capture(cfg: DictConfig) -> None:
        hydra_cfg = HydraConfig.get()
        scrub_hydra_outputs(hydra_cfg, point.run_dir.path)
        point.cfg, point.task_overrides = cfg, list(hydra_cfg.overrides.task)

    done = run_job(hydra_context=context, task_function=capture, config=point.config, job_dir_key="hydra.sweep.dir",
                   job_subdir_key="hydra.sweep.subdir", configure_logging=False)
    if done.status == JobStatus.FAILED:
        raise done._return_value  # a bug in capture: let the command report it
    return done


def merged_note(point: Point) -> str | None:
    """One line saying which points are this same run, and in what they differ (settings that change no answer)."""
    if not point.merged:
        return None
    mine = dict(o.split("=", 1) for o in point.overrides if "=" in o)
    keys: set[str] = set()
    for _, overrides in point.merged:
        theirs = dict(o.split("=", 1) for o in overrides if "=" in o)
        keys |= {key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key)}
    numbers = ", ".join(f"#{number}" for number, _ in point.merged)
    return (f"points {numbers} are the same run as #{point.number} ({', '.join(sorted(keys))} cannot change an "
            f"answer here); it runs once, into {point.run_dir}")
