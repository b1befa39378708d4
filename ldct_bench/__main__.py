"""`python -m ldct_bench [overrides]`: one run, or a -m sweep, composed by Hydra."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ldct_bench.cards.registry import register
from ldct_bench.config.compose import check_command_line, expand_home, help_text
from ldct_bench.errors import Interrupted, LowCoverage, failure_line
from ldct_bench.paths import resource_dir
from ldct_bench.run.rundir import RunDir, expand_resume
from ldct_bench.secrets import mask_logging, scrub_hydra_outputs

PREFIX = "ldct-bench"


def interrupted(run_dir: RunDir) -> Interrupted:
    if not run_dir.has_answers():
        return Interrupted("interrupted before any item was scored")
    return Interrupted(f"interrupted; finished items are saved in {run_dir}. Resume with: {run_dir.resume_command()}")


def end_with(exc: BaseException) -> NoReturn:
    """Print the one line for what ended the command and exit with its code (SystemExit passes through Hydra,
    which would otherwise print the job's overrides, secrets included)."""
    forget_failed_start(exc)
    line, code = failure_line(exc, PREFIX)
    print(line, file=sys.stderr)
    sys.exit(code)


def run_job(cfg: DictConfig) -> float | None:
    """One Hydra job: a single run, or one point of a sweep under Hydra's own launchers (basic, joblib, slurm)."""
    try:
        return run_one(cfg)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the command's boundary: one line, never a trace
        end_with(exc)


def run_one(cfg: DictConfig) -> float | None:
    """Run, print the run's table and hand the results to the loggers; returns `overall` for sweepers."""
    hydra_cfg = HydraConfig.get()
    run_dir = RunDir(hydra_cfg.runtime.output_dir)
    scrub_hydra_outputs(hydra_cfg, run_dir.path)  # Hydra wrote .hydra/ (and multirun.yaml) before this job
    try:
        with run_dir.held():  # first: a second run into this dir stops before seconds of imports
            from ldct_bench.report import log_run
            from ldct_bench.run.runner import run

            results = run(cfg, run_dir, list(hydra_cfg.overrides.task))
            log_run(cfg, run_dir.path, results, plots_in_background=True)
    except KeyboardInterrupt:
        raise interrupted(run_dir) from None
    from ldct_bench.report.summary import format_table

    print(format_table(results))
    print(f"run dir: {run_dir}")
    if results.stopped_by_budget:
        print(f"{PREFIX}: note: stopped at max_cost=${cfg.max_cost:g} with {results.n_answered} of {results.n} "
              f"items answered; continue with: {run_dir.resume_command()} max_cost=MORE", file=sys.stderr)
    if (results.coverage or 0.0) < cfg.min_coverage:
        raise LowCoverage(f"coverage {results.coverage or 0.0:.0%} is below min_coverage={cfg.min_coverage:g}; "
                          f"failures: {results.failures}")
    return results.overall


def main() -> None:
    mask_logging()  # Hydra logs each sweep job's overrides, secrets included
    helping = any(arg in ("-h", "--help", "--hydra-help", "--shell-completion", "-sc") for arg in sys.argv[1:])
    try:
        if not helping and sys.stderr.isatty():  # composing, imports and a first demo build take seconds
            print(f"{PREFIX}: starting: composing the run and loading the data ...", file=sys.stderr, flush=True)
        register()
        if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
            print(help_text())
            return
        sys.argv = [sys.argv[0], *expand_resume(expand_home(sys.argv[1:]))]
        if not helping:
            check_command_line(sys.argv[1:])
        os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra's own failures (a full disk in its config dump) reach us
        hydra.main(config_path=str(resource_dir("conf")), config_name="config", version_base="1.3")(run_job)()
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - one line for everything; a traceback in a file
        end_with(exc)


def forget_failed_start(exc: BaseException) -> None:
    """A write that failed in Hydra's own dump of the config (before the run held its dir) leaves nothing."""
    if isinstance(exc, OSError) and exc.filename and ".hydra" in Path(exc.filename).parts:
        parts = Path(exc.filename).parts
        RunDir(Path(*parts[: parts.index(".hydra")])).remove_unused()


def exit_now(code: int | str | None) -> None:
    """End the command: exit handlers run and output is flushed, then the process ends without tearing down
    every imported module one by one (datasets, pyarrow, hydra, openai: ~0.4 s after a run's last answer).
    Only for the command itself; tests and library users call `main()`, which returns or raises SystemExit."""
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        exit_now(exc.code)
    exit_now(0)
