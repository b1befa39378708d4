"""One stage of a run through the vendor's batch API: the items not yet journaled go as batch lines, each
batch is recorded in the ledger before it is polled, and its answers are read, cached and journaled.

Per line: an answer (status 200) is read by the same rule as a chat reply; a line that never ran (the batch
expired, was cancelled, or the vendor's server failed it) is sent again in a new batch, up to `batch_tries`
batches in all; a line the vendor refused (4xx) fails its item with the vendor's message. Unreadable answers
are not asked again (a re-ask needs another round trip of up to a day): they are failures with their reason.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ldct_bench.backends.base import BackendError, Request, Usage
from ldct_bench.backends.openai_compat import OpenAICompatible
from ldct_bench.batch.ledger import BatchRecord, Ledger
from ldct_bench.batch.lines import InputFiles, custom_id, parse_custom_id
from ldct_bench.batch.vendor import TERMINAL, BatchVendor
from ldct_bench.cards.cost import cost_usd, prices
from ldct_bench.data.task import Item
from ldct_bench.errors import UserError, first_line
from ldct_bench.run.asking import Asker, Outcome
from ldct_bench.run.journal import Journal
from ldct_bench.run.pipeline import send_all
from ldct_bench.run.records import Prediction
from ldct_bench.run.stage import Progress, close_journal, read_journal, save_failure

MAX_POLL_S = 600.0
GROWTH = 1.5
RETRIED = ("batch_expired",)  # error codes of lines that did not run


@dataclass
class Waiting:
    """An item whose samples are answered one by one, in whatever batches they went."""

    item: Item
    request: Request  # its messages (for the cache key) and examples; the body is dropped once written
    outcomes: dict[int, Outcome] = field(default_factory=dict)


class BatchStage:
    def __init__(self, items: list[Item], build: Callable[[Item, int], Request], asker: Asker, journal: Journal,
                 cfg: DictConfig, progress: Progress, label: str, halted: Callable[[], bool], run_dir: Path):
        self.items, self.build, self.asker, self.journal = items, build, asker, journal
        self.cfg, self.progress, self.label, self.halted = cfg, progress, label, halted
        backend = asker.backend
        if not isinstance(backend, OpenAICompatible):
            raise UserError(f"batch=true needs an OpenAI-compatible endpoint; model {cfg.model.name} has none")
        self.backend = backend
        self.vendor = BatchVendor(backend)
        self.ledger = Ledger(run_dir)
        self.run_dir = run_dir
        self.waiting: dict[str, Waiting] = {}
        self.refused: str | None = None  # the journal refused a line (a full disk)

    # ---- the flow ----

    async def run(self) -> dict[str, Prediction]:
        done = read_journal(self.journal)
        todo = [(index, item) for index, item in enumerate(self.items) if item.id not in done]
        if not todo:
            return done
        self.tally = self.progress(self.label, len(self.items), len(self.items) - len(todo))
        in_flight = {cid for record in self.ledger.open(self.label) for cid in record.custom_ids}
        try:
            with tempfile.TemporaryDirectory(prefix="ldct-batch-") as folder:
                files = InputFiles(Path(folder), self.cfg.model.batch_max_requests, self.cfg.model.batch_max_bytes)
                await send_all(todo, self.build, lambda item, request: self._enter(item, request, in_flight, files),
                               1, self.halted)
                await self._submit(files, round_=1)
            await self._wait()
        finally:
            self.tally.close()
            finished = close_journal(self.journal, self.refused, self.asker.cache is not None)
        if self.refused:
            raise save_failure(self.journal, self.refused, finished, self.asker.cache is not None)
        return self.journal.read()

    async def _enter(self, item: Item, request: Request | BaseException, in_flight: set[str],
                     files: InputFiles) -> None:
        """An item's samples: from the cache, from a batch already in flight, or as new lines."""
        if isinstance(request, UserError):
            raise request
        if isinstance(request, BaseException):
            self._finish_failed(item, f"could not build the request ({first_line(request, typed=True, limit=160)})")
            return
        waiting = self.waiting[item.id] = Waiting(item, request)
        lines = []
        for sample in range(self.cfg.repeats):
            hit = self.asker.cached(request, sample)
            cid = custom_id(self.label, item.id, sample)
            if hit is not None:
                waiting.outcomes[sample] = hit
            elif cid not in in_flight:
                lines.append((cid, self.backend.batch_line(request, cid)))
        if lines:
            files.add(lines)
        request.body = None  # megabytes each: the file holds them now
        self._finish_if_answered(waiting)

    async def _submit(self, files: InputFiles, round_: int) -> None:
        """Upload each input file and create its batch; the ledger has it before anything waits on it."""
        for file in files.files:
            input_id, batch = await self.vendor.submit(file.path, {"ldct_bench_run": str(self.run_dir)[-500:],
                                                                   "stage": self.label})
            self.ledger.add(BatchRecord(batch.id, self.label, input_id, file.ids, round=round_, status=batch.status))
            self.asker.requests_sent += len(file.ids)
            self._say(batch, round_)
        files.remove()

    async def _wait(self) -> None:
        """Look at the open batches, growing the pause between looks, and collect each one that has ended."""
        pause = float(self.cfg.batch_poll_s)
        seen: dict[str, tuple[str, int]] = {}  # batch id -> (status, lines completed) last said
        while self.ledger.open(self.label):
            for record in self.ledger.open(self.label):
                batch = await self.vendor.look(record.id)
                state = (batch.status, batch.request_counts.completed if batch.request_counts else 0)
                if seen.get(record.id) != state:
                    seen[record.id] = state
                    self._say(batch, record.round)
                if batch.status in TERMINAL:
                    await self._collect(record, batch)
            if not self.ledger.open(self.label) or self.halted():
                break
            await asyncio.sleep(pause)
            pause = min(MAX_POLL_S, pause * GROWTH)
        if self.halted() and self.ledger.open(self.label):
            print(f"ldct-bench: note: batches {', '.join(r.id for r in self.ledger.open(self.label))} keep running "
                  "at the vendor; the same command (or resume=) collects them", file=sys.stderr)

    async def _collect(self, record: BatchRecord, batch: Any) -> None:
        """Read a finished batch's lines into their items; lines that did not run go into a new batch."""
        if batch.status == "failed" and batch.errors and batch.errors.data:
            first = "; ".join(f"line {e.line}: {e.message}" for e in batch.errors.data[:3])
            raise UserError(f"the vendor refused batch {batch.id} ({first}); fix that and run the same command again")
        answered: dict[str, dict[str, Any]] = {}
        for line in [*await self.vendor.lines(batch.output_file_id), *await self.vendor.lines(batch.error_file_id)]:
            answered[str(line.get("custom_id"))] = line
        again: list[tuple[str, str]] = []
        for cid in record.custom_ids:
            reason = self._settle(cid, answered.get(cid))
            if reason is not None:
                again.append((cid, reason))
        record.collected, record.status = True, batch.status
        self.ledger.save()
        if again:
            await self._send_again(again, record.round + 1)

    def _settle(self, cid: str, line: dict[str, Any] | None) -> str | None:
        """Put one line's answer on its sample; the reason to send it again, or None."""
        _, item_id, sample = parse_custom_id(cid)
        waiting = self.waiting.get(item_id)
        if waiting is None or sample in waiting.outcomes:
            return None  # its item is journaled already (a batch collected again after a restart)
        response = (line or {}).get("response") or {}
        error = (line or {}).get("error") or {}
        status = int(response.get("status_code") or 0)
        if line is None or error.get("code") in RETRIED or status >= 500 or status == 429:
            return error.get("message") or (f"HTTP {status}" if status else "not answered by the batch")
        outcome = Outcome(answer=None)
        if status == 200:
            try:
                completion = self.backend.read_completion(response.get("body"))
            except BackendError as exc:  # cut off: no answer, but billed
                outcome.error, outcome.usage = str(exc), getattr(exc, "usage", None) or Usage()
            except (ValueError, TypeError, AttributeError) as exc:
                outcome.error = f"malformed response ({first_line(exc)})"
            else:
                self.asker.take(outcome, completion)
                self.asker.keep(self.asker.key(waiting.request, sample), outcome, completion)
        else:
            body = response.get("body") or {}
            message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
            outcome.error = f"HTTP {status}: {message or error.get('message') or 'refused by the vendor'}"
        waiting.outcomes[sample] = outcome
        self._finish_if_answered(waiting)
        return None

    async def _send_again(self, again: list[tuple[str, str]], round_: int) -> None:
        """Lines that did not run go in a new batch, unless they have been in `batch_tries` batches already."""
        tries: dict[str, int] = {}
        for record in self.ledger.batches:
            for cid in record.custom_ids:
                tries[cid] = tries.get(cid, 0) + 1
        with tempfile.TemporaryDirectory(prefix="ldct-batch-") as folder:
            files = InputFiles(Path(folder), self.cfg.model.batch_max_requests, self.cfg.model.batch_max_bytes)
            for cid, reason in again:
                _, item_id, sample = parse_custom_id(cid)
                waiting = self.waiting[item_id]
                if tries.get(cid, 0) >= self.cfg.batch_tries:
                    waiting.outcomes[sample] = Outcome(None, error=f"not answered in {tries[cid]} batches ({reason})")
                    self._finish_if_answered(waiting)
                else:
                    files.add([(cid, self.backend.batch_line(waiting.request, cid))])
                    waiting.request.body = None
            await self._submit(files, round_)

    # ---- items ----

    def _finish_if_answered(self, waiting: Waiting) -> None:
        if len(waiting.outcomes) < self.cfg.repeats:
            return
        outcomes = [waiting.outcomes[sample] for sample in range(self.cfg.repeats)]
        costs = [cost_usd(o.usage, self.cfg.model, batch=True) for o in outcomes]
        cost = None if all(c is None for c in costs) else sum(c or 0.0 for c in costs)
        self._save(Prediction.from_outcomes(waiting.item, waiting.request, outcomes, cost))
        del self.waiting[waiting.item.id]

    def _finish_failed(self, item: Item, error: str) -> None:
        self._save(Prediction.failure(item, error))

    def _save(self, record: Prediction) -> None:
        try:
            self.journal.append(record)
        except OSError as exc:
            self.refused = self.refused or f"cannot write {self.journal.path} ({exc.strerror or exc})"
        self.tally.advance(None)

    def _say(self, batch: Any, round_: int) -> None:
        """One progress line: status, completed and failed of total, time since the batch was created."""
        counts = batch.request_counts
        done = f", {counts.completed} of {counts.total} done, {counts.failed} failed" if counts else ""
        elapsed = max(0, int(time.time() - batch.created_at)) if batch.created_at else 0
        since = f", {elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d} since it was sent"
        print(f"ldct-bench: batch {batch.id} ({self.label}{', round ' + str(round_) if round_ > 1 else ''}): "
              f"{batch.status}{done}{since}", file=sys.stderr, flush=True)


async def batch_stage(items: list[Item], build: Callable[[Item, int], Request], asker: Asker, *, journal: Journal,
                      cfg: DictConfig, progress: Progress, label: str, halted: Callable[[], bool],
                      run_dir: Path) -> dict[str, Prediction]:
    """Score the items not yet in the journal through the vendor's batch API; returns every journal record."""
    return await BatchStage(items, build, asker, journal, cfg, progress, label, halted, run_dir).run()


def batch_summary(card: Any, run_dir: Path) -> dict[str, Any]:
    """What results.json says of a batch run: its batches and the prices its cost was counted at."""
    found = prices(card, batch=True)
    return {"batches": Ledger(run_dir).ids(),
            "price_per_mtok": {"input": found[0], "output": found[1]} if found else None}
