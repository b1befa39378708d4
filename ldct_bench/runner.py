"""A run: task -> items -> requests (strategy) -> answers (model) -> journal -> results."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig
from tqdm.auto import tqdm

from .asking import Asker, Outcome
from .backends import make_backend
from .backends.base import ModelBackend, Request
from .cache import ResponseCache
from .config import CacheMode
from .cost import cost_usd, has_prices
from .data.task import Item, Task, load_task
from .errors import UserError
from .journal import Journal
from .metadata.noise import noise_column
from .metadata.region import require_regions, unlabelled
from .results import config_digest, summarize, write_results
from .rundir import CALIBRATION, PREDICTIONS, claim
from .scale import CATEGORIES, category_of
from .strategies import make_strategy



def prediction_record(item: Item, request: Request, outcome: Outcome, cost: float | None) -> dict[str, Any]:
    """One journal line: what was asked, what came back, what it cost; a failure keeps the raw reply."""
    answer = outcome.answer
    category = None
    if answer is not None:
        category = answer.category if answer.category in CATEGORIES else CATEGORIES[category_of(answer.score)]
    return {
        "id": item.id, "target": item.target,
        "score": answer.score if answer else None, "category": category,
        "explanation": answer.explanation if answer else None,
        "error": outcome.error, "raw": None if answer else outcome.raw,
        "example_ids": request.example_ids, "meta": {k: v for k, v in item.meta.items() if v is not None},
        "usage": outcome.usage.as_dict(), "cost_usd": cost, "latency_s": round(outcome.latency_s, 3),
        "attempts": outcome.attempts, "reasks": outcome.reasks, "cached": outcome.cached,
    }


@dataclass
class Budget:
    """Dollars spent by this run's own requests, against max_cost."""

    limit: float | None
    spent: float = 0.0

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent >= self.limit


async def score_items(items: list[Item], build: Callable[[Item, int], Request], asker: Asker, journal: Journal,
                      cfg: DictConfig, budget: Budget, label: str) -> dict[str, dict[str, Any]]:
    """Score the items not yet in the journal, with bounded concurrency; returns all journal records."""
    if not items:
        return {}
    done = journal.read()
    todo = [(index, item) for index, item in enumerate(items) if item.id not in done]
    semaphore = asyncio.Semaphore(max(1, cfg.model.concurrency))
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=label, unit="item", dynamic_ncols=True)

    async def one(index: int, item: Item) -> None:
        try:
            request = build(item, index)
            outcome = await asker.ask(request)
            cost = cost_usd(outcome.usage, cfg.model)
            if cost is not None and not outcome.cached:
                budget.spent += cost
            journal.append(prediction_record(item, request, outcome, cost))
            bar.update(1)
            if cost is not None:
                bar.set_postfix(cost=f"${budget.spent:.4f}", refresh=False)
        finally:
            semaphore.release()

    pending: list[asyncio.Task] = []
    try:
        for index, item in todo:
            await semaphore.acquire()
            if budget.exhausted:
                semaphore.release()
                break
            pending.append(asyncio.create_task(one(index, item)))
        await asyncio.gather(*pending)
    finally:
        for task in pending:
            task.cancel()
        bar.close()
        journal.close()
    return journal.read()


def ensure_metadata(task: Task, cfg: DictConfig) -> None:
    """Compute or check the per-image columns the prompt will show."""
    if cfg.metadata.noise:
        noise_column(task)
    if cfg.metadata.region:
        require_regions(task)  # the data's own column, else labels stored by `ldct-bench label-regions`
    elif cfg.strategy.selection == "same_region" and unlabelled(task):
        print("ldct-bench: note: no region labels, so same_region selection picks examples from all regions "
              "(label them with `ldct-bench label-regions`)", file=sys.stderr)


def check_settings(cfg: DictConfig) -> None:
    """Settings that compose fine but make no sense together: fail before any work."""
    if cfg.limit is not None and cfg.limit < 0:
        raise UserError(f"limit={cfg.limit} is negative; give a positive number of test items or null")
    if not cfg.model.supports_images:
        raise UserError(f"model {cfg.model.name} does not accept images (supports_images: false); "
                        "choose a vision model (`ldct-bench list models`)")
    if not 0.0 <= cfg.min_coverage <= 1.0:
        raise UserError(f"min_coverage={cfg.min_coverage} must be between 0 and 1")
    if cfg.max_cost is not None and not has_prices(cfg.model):
        raise UserError(f"max_cost needs prices, and model {cfg.model.name} has none; set "
                        "model.price_input_per_mtok and model.price_output_per_mtok (dollars per million tokens)")


async def _run(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    check_settings(cfg)
    backend: ModelBackend = make_backend(cfg.model, run_dir)
    started = time.monotonic()  # after the backend's one-off imports (the openai client takes ~1 s)
    task = load_task(cfg.task)
    ensure_metadata(task, cfg)
    strategy = make_strategy(cfg.strategy, cfg.shots, cfg.metadata, task, cfg.seed)
    items = task.items("test")[: cfg.limit] if cfg.limit is not None else task.items("test")
    digest = config_digest(cfg, task.fingerprint)
    claim(run_dir, digest, overrides)
    cache = None if cfg.cache.mode == CacheMode.off else ResponseCache(Path(cfg.cache.dir))
    asker = Asker(backend, cache, cfg.cache.mode, cfg.model.reasks)
    budget = Budget(cfg.max_cost)
    try:
        await backend.start(task)
        calibration = await score_items(strategy.calibration_items(), lambda item, i: strategy.calibration_request(item),
                                        asker, Journal(run_dir / CALIBRATION), cfg, budget, "calibration")
        records = await score_items(items, lambda item, i: strategy.request(item, i, calibration),
                                    asker, Journal(run_dir / PREDICTIONS), cfg, budget, "scoring")
    finally:
        await backend.close()
        if cache is not None:
            cache.close()
    results = summarize(cfg, [records[item.id] for item in items if item.id in records], len(items),
                        digest=digest, requests=asker.requests_sent, spent=budget.spent,
                        seconds=time.monotonic() - started, stopped_by_budget=budget.exhausted)
    write_results(run_dir, results)
    return results


def run(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """Run one configuration into run_dir (continuing what its journal already holds)."""
    return asyncio.run(_run(cfg, run_dir, overrides))
