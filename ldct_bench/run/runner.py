"""A run: task -> items -> requests (strategy) -> answers (model) -> journal -> results.

`prepare` does everything that can fail before money is spent (settings, the model's status and key, the
data, the metadata, whether the prompts fit); `execute` sends, journals and sums up. A single run does one
after the other; a sweep prepares every point first, then executes them all at once (ldct_bench/sweep/).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from omegaconf import DictConfig

from ldct_bench.backends import make_backend
from ldct_bench.backends.base import ModelBackend
from ldct_bench.backends.limits import Endpoints
from ldct_bench.cards.fit import check_fit
from ldct_bench.cards.registry import registered_values
from ldct_bench.config.identity import Identity, config_digest, identity, shows_prompt
from ldct_bench.config.schema import CacheMode, Scoring
from ldct_bench.data.task import Item, Task, TaskStore
from ldct_bench.reading.scoring import reader
from ldct_bench.run.asking import Asker
from ldct_bench.run.cache import ResponseCache
from ldct_bench.run.interrupt import StopRequested, run_stoppable
from ldct_bench.run.preflight import check_settings, ensure_metadata
from ldct_bench.run.progress import StageBar
from ldct_bench.run.results import Results, summarize
from ldct_bench.run.rundir import RunDir
from ldct_bench.run.stage import Budget, Progress, score_stage
from ldct_bench.strategies import NoPrompt, Strategy, make_strategy


@dataclass
class Prepared:
    """A run checked and built, before its first request."""

    cfg: DictConfig
    run_dir: RunDir
    overrides: list[str]
    backend: ModelBackend
    task: Task
    items: list[Item]
    strategy: Strategy
    digest: str
    identity: Identity
    notes: list[str] = field(default_factory=list)  # worth knowing, said once before the run starts


def prepare(cfg: DictConfig, run_dir: RunDir, overrides: list[str], *, tasks: TaskStore | None = None,
            endpoints: Endpoints | None = None) -> Prepared:
    """Check and build everything a run needs, sending nothing; UserError names the first problem.
    `tasks` and `endpoints` are shared by the points of a sweep (data and images opened once; one budget
    per endpoint)."""
    notes = check_settings(cfg)
    backend = make_backend(cfg.model, run_dir.path, logprobs=cfg.scoring == Scoring.expected, endpoints=endpoints)
    task = (tasks or TaskStore()).load(cfg.task)
    if shows_prompt(cfg):
        notes += ensure_metadata(task, cfg)
    items = task.items("test")[: cfg.limit] if cfg.limit is not None else task.items("test")
    if shows_prompt(cfg):
        strategy: Strategy = make_strategy(cfg.strategy, cfg.shots, cfg.metadata, task, cfg.seed, items)
        check_fit(cfg.model, strategy, items, strategy.calibration_items())
    else:
        strategy = NoPrompt()
    return Prepared(cfg, run_dir, overrides, backend, task, items, strategy, config_digest(cfg, task.fingerprint),
                    identity(cfg, registered_values), notes)


async def execute(run: Prepared, progress: Progress = StageBar, halted: Callable[[], bool] = lambda: False) -> Results:
    """Send what the journal does not hold yet (calibration images, then test items) and sum up the results;
    once `halted()` (Ctrl-C) no new request goes out, and StopRequested is raised when those in flight are saved."""
    cfg, backend, strategy = run.cfg, run.backend, run.strategy
    run.run_dir.claim(run.digest, run.overrides, run.identity.as_json())
    started = time.monotonic()
    cache = None if cfg.cache.mode == CacheMode.off else ResponseCache(Path(cfg.cache.dir))
    asker = Asker(backend, cache, cfg.cache.mode, cfg.model.reasks,
                  reader(cfg.scoring, bool(cfg.model.get("category_as_score", False))), seed=cfg.seed)
    budget = Budget(cfg.max_cost)
    if cfg.batch:
        from ldct_bench.batch.stage import batch_stage  # the openai client's batch API: only for batch runs

        stage = partial(batch_stage, run_dir=run.run_dir.path)
    else:
        stage = partial(score_stage, budget=budget)
    try:
        await backend.start(run.task)
        calibration = await stage(strategy.calibration_items(),
                                  lambda item, i: backend.prepare(strategy.calibration_request(item)), asker,
                                  journal=run.run_dir.calibration, cfg=cfg, progress=progress, label="calibration",
                                  halted=halted)
        earlier = {item_id: record.score for item_id, record in calibration.items()}
        records = await stage(run.items, lambda item, i: backend.prepare(strategy.request(item, i, earlier)), asker,
                              journal=run.run_dir.predictions, cfg=cfg, progress=progress, label="scoring",
                              halted=halted)
    finally:
        await backend.close()
        if cache is not None:
            cache.close()
    if halted():
        raise StopRequested
    results = summarize(cfg, [records[item.id] for item in run.items if item.id in records], len(run.items),
                        digest=run.digest, requests=asker.requests_sent, spent=budget.spent,
                        seconds=time.monotonic() - started, stopped_by_budget=budget.exhausted,
                        identity=run.identity)
    if cfg.batch:
        from ldct_bench.batch.stage import batch_summary

        results.batch = batch_summary(cfg.model, run.run_dir.path)
    run.run_dir.write_results(results)
    return results


def say(notes: list[str]) -> None:
    for note in notes:
        print(f"ldct-bench: note: {note}", file=sys.stderr)


def run(cfg: DictConfig, run_dir: RunDir, overrides: list[str]) -> Results:
    """Run one configuration into its run dir (continuing what its journal already holds)."""
    prepared = prepare(cfg, run_dir, overrides)
    say(prepared.notes)
    return run_stoppable(lambda stop: execute(prepared, halted=stop))
