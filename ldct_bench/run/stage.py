"""One stage of a run (the calibration images, then the test items): every item not yet in the journal is
asked, answered and journaled.

An item that fails in any way is a recorded failure and the stage goes on; it stops taking new items only for
what concerns every item (a rejected key, a retired model, the budget, a disk that refuses its answers), and
then waits for the requests in flight and keeps their answers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from omegaconf import DictConfig

from ldct_bench.backends.base import Request
from ldct_bench.cards.cost import cost_usd
from ldct_bench.data.task import Item
from ldct_bench.errors import SaveError, UserError, first_line
from ldct_bench.run.asking import Asker, Outcome
from ldct_bench.run.journal import Finished, Journal
from ldct_bench.run.pipeline import send_all
from ldct_bench.run.records import Prediction
from ldct_bench.run.rundir import resume_command


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
    """Why the stage stopped taking new items (nothing set: it did not)."""

    fatal: UserError | None = None  # concerns every item: raised once the requests in flight are done
    save_error: str | None = None  # the journal or the response cache refused an answer
    unsaved: list[str] = field(default_factory=list)

    @property
    def now(self) -> bool:
        return self.fatal is not None or self.save_error is not None


class Tally(Protocol):
    """Where a stage reports progress: items done (with the dollars spent so far)."""

    def advance(self, spent: float | None) -> None: ...

    def close(self) -> None: ...


Progress = Callable[[str, int, int], Tally]
CACHE_REFUSED = "the response cache refused an answer"  # (stage label, items in all, items already done) -> a tally


async def ask_samples(asker: Asker, request: Request, repeats: int) -> list[Outcome]:
    """`repeats` independent answers to one request (sample numbers 0..repeats-1, each cached on its own)."""
    return [await asker.ask(request, sample) for sample in range(repeats)]


async def score_stage(items: list[Item], build: Callable[[Item, int], Request], asker: Asker, *, journal: Journal,
                      cfg: DictConfig, budget: Budget, progress: Progress, label: str,
                      halted: Callable[[], bool] = lambda: False) -> dict[str, Prediction]:
    """Score the items not yet in the journal with bounded concurrency; returns every journal record. Once
    `halted()` (Ctrl-C) it takes no new item and returns when the ones in flight are journaled."""
    if not items:
        return {}
    done = read_journal(journal)
    todo = [(index, item) for index, item in enumerate(items) if item.id not in done]
    if not todo:
        return done
    stop = Stop()
    tally = progress(label, len(items), len(items) - len(todo))

    async def handle(item: Item, request: Request | BaseException) -> None:
        if isinstance(request, UserError):
            stop.fatal = stop.fatal or request
            return
        if stop.now or budget.exhausted or halted():
            return
        try:
            record = await answer(item, request)
        except UserError as exc:
            stop.fatal = stop.fatal or exc
            return
        except Exception as exc:  # noqa: BLE001 - one item's bug is that item's failure
            record = Prediction.failure(item, f"internal error ({first_line(exc, typed=True, limit=160)})")
        save(item, record)
        tally.advance(budget.spent if record.cost_usd is not None else None)

    async def answer(item: Item, request: Request | BaseException) -> Prediction:
        if isinstance(request, BaseException):
            reason = first_line(request, typed=True, limit=160)
            return Prediction.failure(item, f"could not build the request ({reason})")
        outcomes = await ask_samples(asker, request, cfg.repeats)
        costs = [cost_usd(o.usage, cfg.model) for o in outcomes]
        budget.spent += sum(c for c, o in zip(costs, outcomes) if c is not None and not o.cached)
        refused = next((o.unstored for o in outcomes if o.unstored), None)
        if refused and not stop.save_error:
            stop.save_error = f"{CACHE_REFUSED} ({refused})"
        cost = None if all(c is None for c in costs) else sum(c or 0.0 for c in costs)
        return Prediction.from_outcomes(item, request, outcomes, cost)

    def save(item: Item, record: Prediction) -> None:
        try:
            journal.append(record)
        except OSError as exc:
            stop.save_error = stop.save_error or f"cannot write {journal.path} ({exc.strerror or exc})"
            stop.unsaved.append(record.id)
        except (TypeError, ValueError) as exc:  # a record JSON cannot hold: keep the item, as a failure
            journal.append(Prediction.failure(item, "internal error (the answer could not be recorded: "
                                                    f"{exc.__class__.__name__})"))

    try:
        await send_all(todo, build, handle, cfg.model.concurrency, lambda: stop.now or budget.exhausted or halted())
    finally:
        tally.close()
        cached = asker.cache is not None and not (stop.save_error or "").startswith(CACHE_REFUSED)
        finished = close_journal(journal, stop.save_error, cached)
    if stop.save_error:
        raise save_failure(journal, stop.save_error, finished, cached)
    if stop.fatal is not None:
        raise stop.fatal
    return journal.read()


def read_journal(journal: Journal) -> dict[str, Prediction]:
    """What a stage's journal holds (answers an earlier run rescued from a full disk folded in)."""
    try:
        return journal.read()
    except OSError as exc:
        raise SaveError(f"cannot write {journal.path} ({exc.strerror or exc}); the answers an earlier run rescued "
                        f"stay in {', '.join(str(p) for p in journal.rescue_paths() if p.exists())}; free some "
                        f"space, then continue with: {resume_command(journal.path.parent)}") from None


def close_journal(journal: Journal, save_error: str | None, cached: bool) -> Finished:
    """Finish the journal (lines the disk refused go to a rescue file); when a stop interrupted a stage whose
    disk refused lines, say where they are."""
    finished = journal.finish()
    if finished.unwritten and not save_error:
        print(f"ldct-bench: note: {_where(finished, cached)}; the next run into this dir takes them in",
              file=sys.stderr)
    return finished


def save_failure(journal: Journal, reason: str, finished: Finished, cached: bool) -> SaveError:
    """One line: what failed, where the answers are, how to continue."""
    return SaveError(f"stopped sending: {reason}; {_where(finished, cached)}; free some space, then continue with: "
                     f"{resume_command(journal.path.parent)}")


def _where(finished: Finished, cached: bool) -> str:
    """Where the answers went, in words: all in the journal, a rescue file, or (failing both) the cache."""
    if not finished.unwritten:
        return "every answer received is in the journal"
    if finished.rescued_to is not None:
        return f"{finished.unwritten} answers not in the journal are saved in {finished.rescued_to}"
    reason = finished.error.strerror if finished.error is not None else "no place to write"
    return (f"{finished.unwritten} answers could not be saved anywhere ({reason}); "
            + ("they are in the response cache" if cached else "they are lost"))
