"""`python -m ldct_bench [overrides]`: one run (or a -m sweep) composed by Hydra."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ldct_bench.config.compose import check_command_line, expand_home, help_text
from ldct_bench.errors import SaveError, UserError
from ldct_bench.paths import resource_dir
from ldct_bench.cards.registry import register
from ldct_bench.run.rundir import RunLock, expand_resume, has_answers, remove_unused, resume_command
from ldct_bench.secrets import mask_logging, redact, scrub_hydra_outputs


def _fail(message: str, code: int = 2) -> None:
    print(f"ldct-bench: error: {message}", file=sys.stderr)
    sys.exit(code)


def internal_error(exc: Exception) -> str:
    """One masked line for an unexpected exception; the masked traceback goes to a file for the bug report."""
    trace = redact("".join(traceback.format_exception(exc)))
    with tempfile.NamedTemporaryFile("w", prefix="ldct-bench-error-", suffix=".txt", delete=False) as handle:
        handle.write(trace)
    return (f"internal error ({exc.__class__.__name__}: {redact(str(exc))[:200]}); this is a bug in ldct-bench: "
            f"please report it with {handle.name}; answers already received are kept in the run dir")


def run_job(cfg: DictConfig) -> float | None:
    """One Hydra job: run, print the table, hand results to the loggers; returns `overall` for sweepers.

    The run holds its run dir's lock throughout; a start that fails before its first answer removes
    what it set up (Hydra's .hydra/ and log, run.json), so the corrected command starts clean."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir).resolve()
    scrub_hydra_outputs(hydra_cfg, run_dir)  # Hydra wrote .hydra/ (and multirun.yaml) before this job
    lock = RunLock(run_dir)
    try:
        lock.acquire()
    except UserError as exc:
        _fail(str(exc))  # another run owns this dir: touch nothing of it
    try:
        from ldct_bench.report import log_run
        from ldct_bench.run.results import format_table
        from ldct_bench.run.runner import run

        results = run(cfg, run_dir, list(hydra_cfg.overrides.task))
        log_run(cfg, run_dir, results, plots_in_background=True)
    except UserError as exc:
        if not isinstance(exc, SaveError):  # a save failure keeps the dir: its resume command needs run.json
            remove_unused(run_dir)
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        if not has_answers(run_dir):
            remove_unused(run_dir)
            _fail("interrupted before any item was scored", 130)
        _fail(f"interrupted; finished items are saved in {run_dir}. Resume with: {resume_command(run_dir)}", 130)
    except Exception as exc:  # a bug: one line here (Hydra would print the overrides, secrets included)
        remove_unused(run_dir)
        _fail(internal_error(exc), 1)
    except BaseException:
        remove_unused(run_dir)
        raise
    finally:
        lock.release()
    print(format_table(results))
    print(f"run dir: {run_dir}")
    if results["stopped_by_budget"]:
        print(f"ldct-bench: note: stopped at max_cost=${cfg.max_cost:g} with {results['n_answered']} of "
              f"{results['n']} items answered; continue with: {resume_command(run_dir)} max_cost=MORE", file=sys.stderr)
    if results["coverage"] < cfg.min_coverage:
        _fail(f"coverage {results['coverage']:.0%} is below min_coverage={cfg.min_coverage:g}; "
              f"failures: {results['failures']}", 3)
    return results["metrics"]["overall"]


def main() -> None:
    mask_logging()  # Hydra logs each sweep job's overrides, secrets included
    try:
        helping = any(arg in ("-h", "--help", "--hydra-help", "--shell-completion", "-sc") for arg in sys.argv[1:])
        if not helping and sys.stderr.isatty():  # composing, imports and a first demo build take seconds
            print("ldct-bench: starting: composing the run and loading the data ...", file=sys.stderr, flush=True)
        register()
        if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
            print(help_text())
            return
        sys.argv = [sys.argv[0], *expand_resume(expand_home(sys.argv[1:]))]
        if not helping:
            check_command_line(sys.argv[1:])
        hydra.main(config_path=str(resource_dir("conf")), config_name="config", version_base="1.3")(run_job)()
    except UserError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted before any item was scored", 130)


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
