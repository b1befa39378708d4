"""A run: task -> items -> requests (strategy) -> answers (model) -> journal -> results.

Requests are built ahead of the senders in worker threads (reading, windowing and encoding images
releases the GIL), so the event loop only sends; at most a few requests wait built at any time.
An item that fails in any way is a recorded failure and the run goes on; the run stops early only for
what concerns every item (a rejected key, a retired model, the budget, a disk that refuses its answers),
and then waits for the requests in flight and keeps their answers.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig
from tqdm.auto import tqdm

from ldct_bench.run.asking import Asker, Outcome
from ldct_bench.cards.fit import check_fit
from ldct_bench.cards.lifecycle import check_status
from ldct_bench.backends import make_backend
from ldct_bench.backends.base import ModelBackend, Request
from ldct_bench.run.cache import ResponseCache
from ldct_bench.config.schema import CacheMode
from ldct_bench.cards.cost import cost_usd, has_prices
from ldct_bench.data.task import Item, Task, load_task
from ldct_bench.errors import SaveError, UserError
from ldct_bench.run.journal import Journal
from ldct_bench.metadata.noise import noise_column
from ldct_bench.metadata.region import require_regions, unlabelled
from ldct_bench.run.records import prediction_record
from ldct_bench.run.results import config_digest, summarize, write_results
from ldct_bench.run.rundir import CALIBRATION, PREDICTIONS, claim, resume_command
from ldct_bench.reading.scoring import SCORINGS, reader
from ldct_bench.strategies import CALIBRATIONS, make_strategy

BUILD_WORKERS = 2  # threads that build requests (Pillow, numpy and zlib release the GIL); 2 cores here


@dataclass
class Budget:
    """Dollars spent by this run's own requests, against max_cost."""

    limit: float | None
    spent: float = 0.0

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent >= self.limit


@dataclass
class Stop:
    """Why the senders stopped taking new items (None: they did not)."""

    fatal: UserError | None = None  # concerns every item: re-raised once the requests in flight are done
    save_error: str | None = None  # the journal or the cache refused an answer
    unsaved: list[str] = field(default_factory=list)

    @property
    def now(self) -> bool:
        return self.fatal is not None or self.save_error is not None


Build = Callable[[Item, int], Request]


def _built(build: Build, item: Item, index: int) -> Request | BaseException:
    """A request, or the exception that building it raised (handed to the sender, which records it)."""
    try:
        return build(item, index)
    except Exception as exc:  # noqa: BLE001 - the sender decides: UserError stops the run, others fail one item
        return exc


async def ask_samples(asker: Asker, request: Request, repeats: int) -> list[Outcome]:
    """`repeats` independent answers to one request (sample numbers 0..repeats-1, each cached on its own)."""
    return [await asker.ask(request, sample) for sample in range(repeats)]


async def score_items(items: list[Item], build: Build, asker: Asker, journal: Journal, cfg: DictConfig,
                      budget: Budget, label: str) -> dict[str, dict[str, Any]]:
    """Score the items not yet in the journal with bounded concurrency; returns all journal records."""
    if not items:
        return {}
    try:
        done = journal.read()  # folds in answers an earlier run had to rescue from a full disk
    except OSError as exc:
        raise SaveError(f"cannot write {journal.path} ({exc.strerror or exc}); the answers an earlier run rescued "
                        f"stay in {', '.join(str(p) for p in journal.rescue_paths() if p.exists())}; free some "
                        f"space, then continue with: {resume_command(journal.path.parent)}") from None
    todo = [(index, item) for index, item in enumerate(items) if item.id not in done]
    if not todo:
        return done
    senders = max(1, min(cfg.model.concurrency, len(todo)))
    item_of = {item.id: item for _, item in todo}
    ready: asyncio.Queue = asyncio.Queue(maxsize=max(2, senders // 2))  # built requests waiting for a sender
    stop = Stop()
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=label, unit="item", dynamic_ncols=True)
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=BUILD_WORKERS, thread_name_prefix="ldct-build")

    async def produce() -> None:
        window: deque = deque()
        for index, item in todo:
            if stop.now or budget.exhausted:
                break
            window.append((index, item, loop.run_in_executor(pool, _built, build, item, index)))
            if len(window) > BUILD_WORKERS:
                index, item, built = window.popleft()
                await ready.put((index, item, await built))
        while window:
            index, item, built = window.popleft()
            await ready.put((index, item, await built))
        for _ in range(senders):
            await ready.put(None)

    async def send() -> None:
        while not (stop.now or budget.exhausted):
            got = await ready.get()
            if got is None:
                return
            index, item, request = got
            if isinstance(request, UserError):
                stop.fatal = stop.fatal or request
                return
            if stop.now or budget.exhausted:
                return
            try:
                record = await answer_record(item, request)
            except UserError as exc:
                stop.fatal = stop.fatal or exc
                return
            except Exception as exc:  # noqa: BLE001 - one item's bug is that item's failure
                record = prediction_record(item, None, [Outcome(None, error=f"internal error "
                                                        f"({exc.__class__.__name__}: {str(exc)[:120]})")], None)
            save(record)

    async def answer_record(item: Item, request: Request | BaseException) -> dict[str, Any]:
        if isinstance(request, BaseException):
            error = f"could not build the request ({request.__class__.__name__}: {str(request)[:120]})"
            return prediction_record(item, None, [Outcome(None, error=error)], None)
        outcomes = await ask_samples(asker, request, cfg.repeats)
        costs = [cost_usd(o.usage, cfg.model) for o in outcomes]
        budget.spent += sum(c for c, o in zip(costs, outcomes) if c is not None and not o.cached)
        if asker.store_error and not stop.save_error:
            stop.save_error = f"the response cache refused an answer ({asker.store_error})"
        cost = None if all(c is None for c in costs) else sum(c or 0.0 for c in costs)
        return prediction_record(item, request, outcomes, cost)

    def save(record: dict[str, Any]) -> None:
        try:
            journal.append(record)
        except OSError as exc:
            stop.save_error = stop.save_error or f"cannot write {journal.path} ({exc.strerror or exc})"
            stop.unsaved.append(record["id"])
        except (TypeError, ValueError) as exc:  # a record JSON cannot hold: keep the item, as a failure
            journal.append(prediction_record(item_of[record["id"]], None, [Outcome(
                None, error=f"internal error (the answer could not be recorded: {exc.__class__.__name__})")], None))
        bar.update(1)
        if record.get("cost_usd") is not None:
            bar.set_postfix(cost=f"${budget.spent:.4f}", refresh=False)

    producer = asyncio.create_task(produce())
    try:
        await asyncio.gather(*(send() for _ in range(senders)))
    finally:
        producer.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
        _close(journal, stop)
        if journal.pending and not stop.save_error:  # interrupted (Ctrl-C) while the disk refused lines
            try:
                print(f"ldct-bench: note: {len(journal.pending)} answers the disk refused are saved in "
                      f"{journal.rescue()}; the next run into this dir takes them in", file=sys.stderr)
            except OSError:
                pass
    if stop.save_error:
        raise _save_failure(journal, stop, asker, cfg)
    if stop.fatal is not None:
        raise stop.fatal
    return journal.read()


def _close(journal: Journal, stop: Stop) -> None:
    """Last try at the lines the disk refused, then close; a failure here is one more save error."""
    try:
        journal.flush()
        journal.close()
    except OSError as exc:
        stop.save_error = stop.save_error or f"cannot write {journal.path} ({exc.strerror or exc})"


def _save_failure(journal: Journal, stop: Stop, asker: Asker, cfg: DictConfig) -> SaveError:
    """One line: what failed, where the answers are, how to continue."""
    kept = len(journal.pending)
    where = []
    if kept:
        try:
            where.append(f"{kept} answers not in the journal are saved in {journal.rescue()}")
        except OSError as exc:
            where.append(f"{kept} answers could not be saved anywhere ({exc.strerror}); "
                         + ("they are in the response cache" if asker.cache and not asker.store_error else "they are lost"))
    else:
        where.append("every answer received is in the journal")
    run_dir = journal.path.parent
    return SaveError(f"stopped sending: {stop.save_error}; {', '.join(where)}; free some space, then continue "
                     f"with: {resume_command(run_dir)}")


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
    check_status(cfg.model)  # a retired model stops first (lifecycle.py)
    if cfg.limit is not None and cfg.limit < 0:
        raise UserError(f"limit={cfg.limit} is negative; give a positive number of test items or null")
    if not cfg.model.supports_images:
        raise UserError(f"model {cfg.model.name} does not accept images (supports_images: false); "
                        "choose a vision model (`ldct-bench list models`)")
    if not 0.0 <= cfg.min_coverage <= 1.0:
        raise UserError(f"min_coverage={cfg.min_coverage} must be between 0 and 1")
    if cfg.max_cost is not None and cfg.max_cost < 0:
        raise UserError(f"max_cost={cfg.max_cost:g} is negative; give dollars (0 or more) or null for no limit")
    if cfg.max_cost is not None and not has_prices(cfg.model):
        raise UserError(f"max_cost needs prices, and model {cfg.model.name} has none; set "
                        "model.price_input_per_mtok and model.price_output_per_mtok (dollars per million tokens)")
    if cfg.repeats < 1:
        raise UserError(f"repeats={cfg.repeats} must be 1 or more (independent answers per test item)")
    if cfg.scoring not in SCORINGS:
        raise UserError(f"scoring={cfg.scoring} is not known; use scoring=text or scoring=expected")
    if cfg.strategy.calibration not in CALIBRATIONS:
        raise UserError(f"strategy.calibration={cfg.strategy.calibration} is not known; use "
                        f"{' or '.join('strategy.calibration=' + c for c in CALIBRATIONS)}")
    if cfg.scoring == "expected" and cfg.model.backend != "baseline" and not cfg.model.get("logprobs", False):
        raise UserError(f"scoring=expected needs token log-probabilities, and model {cfg.model.name} does not return "
                        "them (logprobs: false on its card); use scoring=text, or a card whose endpoint returns "
                        "them (vLLM cards; set model.logprobs=true for your own endpoint if it does)")
    if cfg.repeats > 1 and cfg.model.temperature == 0:
        print(f"ldct-bench: note: repeats={cfg.repeats} at temperature 0: the samples may agree; set "
              "model.temperature for independent samples", file=sys.stderr)


def _reader(cfg: DictConfig):
    return reader(cfg.scoring, bool(cfg.model.get("category_as_score", False)))


async def _run(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    check_settings(cfg)
    backend: ModelBackend = make_backend(cfg.model, run_dir, logprobs=cfg.scoring == "expected")
    started = time.monotonic()  # after the backend's one-off imports (the openai client takes ~1 s)
    task = load_task(cfg.task)
    ensure_metadata(task, cfg)
    items = task.items("test")[: cfg.limit] if cfg.limit is not None else task.items("test")
    strategy = make_strategy(cfg.strategy, cfg.shots, cfg.metadata, task, cfg.seed, items)
    check_fit(cfg.model, strategy, items, strategy.calibration_items())  # before any request (fit.py)
    digest = config_digest(cfg, task.fingerprint)
    claim(run_dir, digest, overrides)
    cache = None if cfg.cache.mode == CacheMode.off else ResponseCache(Path(cfg.cache.dir))
    asker = Asker(backend, cache, cfg.cache.mode, cfg.model.reasks, _reader(cfg), seed=cfg.seed)
    budget = Budget(cfg.max_cost)
    try:
        await backend.start(task)
        calibration = await score_items(strategy.calibration_items(),
                                        lambda item, i: backend.prepare(strategy.calibration_request(item)),
                                        asker, Journal(run_dir / CALIBRATION), cfg, budget, "calibration")
        records = await score_items(items, lambda item, i: backend.prepare(strategy.request(item, i, calibration)),
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
