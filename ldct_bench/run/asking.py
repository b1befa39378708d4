"""One item's answer: response cache, the backend call, reading the reply, and re-asks when unreadable.

Whatever goes wrong while reading one reply (an unreadable answer, or a bug in a reader) becomes a
failure on that item with its reason: a reply can never stop a run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ldct_bench.backends.base import BackendError, Completion, ModelBackend, Request, Usage
from ldct_bench.config.schema import CacheMode
from ldct_bench.errors import UserError, first_line
from ldct_bench.reading.answer import AnswerError
from ldct_bench.reading.scoring import reader
from ldct_bench.run.cache import ResponseCache, cache_key

REASK = "Your reply could not be read ({reason}). Answer again with only the JSON object asked for."
Reader = Callable[[Completion], Any]  # raises AnswerError on an unusable reply


@dataclass
class Outcome:
    answer: Any | None
    error: str | None = None
    raw: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    attempts: int = 0
    reasks: int = 0
    cached: bool = False
    unstored: str | None = None  # the response cache refused this good answer (a full disk): why


def read_safely(read: Reader, completion: Completion) -> tuple[Any | None, str | None]:
    """(answer, None) or (None, reason); an unexpected exception in the reader is a reason too, never a crash."""
    try:
        return read(completion), None
    except AnswerError as exc:
        return None, f"unparseable answer ({exc})"
    except Exception as exc:  # noqa: BLE001 - a reader bug must cost one item, not the run
        return None, f"reader error ({exc.__class__.__name__}: {str(exc)[:120]})"


class Asker:
    def __init__(self, backend: ModelBackend, cache: ResponseCache | None, mode: CacheMode, reasks: int,
                 read: Reader | None = None, seed: int | None = None):
        self.backend = backend
        self.read = read or reader("text")  # a score by default; region labels too
        self.cache = cache if backend.remote and mode != CacheMode.off else None
        self.mode = mode
        self.reasks = reasks
        self.seed = seed
        self.requests_sent = 0
        self.fatal: UserError | None = None  # a rejected key or unknown model: every later ask fails at once

    def key(self, request: Request, sample: int = 0) -> str:
        """The response-cache key of one sample of a request ('' without a cache)."""
        return cache_key(self.backend.identity(), request.messages, sample=sample, seed=self.seed) if self.cache else ""

    def cached(self, request: Request, sample: int = 0) -> Outcome | None:
        """A readable answer the cache already holds for this sample, or None."""
        if self.cache is None or self.mode != CacheMode.use:
            return None
        hit = self.cache.get(self.key(request, sample))
        if hit is None:
            return None
        text, usage, logprobs = hit
        answer, _ = read_safely(self.read, Completion(text, Usage(**usage), logprobs=logprobs))
        if answer is None:  # an older reader accepted it: ask again
            return None
        return Outcome(answer, raw=text, usage=Usage(**usage), cached=True)

    def take(self, outcome: Outcome, completion: Completion, reask: int = 0) -> None:
        """Add one reply to a sample's outcome and read it (a backend that scores by itself gives its answer)."""
        outcome.usage += completion.usage
        outcome.latency_s += completion.latency_s
        outcome.attempts += completion.attempts
        outcome.reasks = reask
        outcome.raw = completion.text
        outcome.answer, outcome.error = (completion.answer, None) if completion.answer is not None \
            else read_safely(self.read, completion)

    def keep(self, key: str, outcome: Outcome, completion: Completion) -> None:
        """Cache a readable answer under the original messages, so a rerun of the same item is free."""
        if self.cache is not None and outcome.answer is not None:
            outcome.unstored = self._store(self.cache, key, completion, outcome.usage)

    async def ask(self, request: Request, sample: int = 0) -> Outcome:
        """The answer to `request`; `sample` numbers independent answers to the same messages. An unreadable
        reply is asked again (up to `reasks` times) with the reason."""
        hit = self.cached(request, sample)
        if hit is not None:
            return hit
        outcome = Outcome(answer=None)
        current = request  # the first attempt sends the body built ahead; a re-ask builds its own
        for reask in range(self.reasks + 1):
            try:
                completion = await self._send(current)
            except BackendError as exc:
                outcome.error = str(exc)
                outcome.usage += getattr(exc, "usage", None) or Usage()  # a cut-off answer is still billed
                return outcome
            self.take(outcome, completion, reask)
            if outcome.answer is not None:
                self.keep(self.key(request, sample), outcome, completion)
                return outcome
            current = Request(request.item, [*request.messages, {"role": "assistant", "content": completion.text},
                                             {"role": "user", "content": REASK.format(reason=outcome.error)}],
                              request.example_ids)
        return outcome

    def _store(self, cache: ResponseCache, key: str, completion: Completion, usage: Usage) -> str | None:
        """Put a good answer in the cache; None, or why the cache refused it (a full disk: the answer is kept)."""
        try:
            cache.put(key, str(self.backend.identity().get("model_id")), completion.text, usage.as_dict(),
                      completion.logprobs)
        except (sqlite3.Error, OSError, UserError, ValueError) as exc:  # ValueError: text SQLite cannot encode
            return first_line(exc)
        return None

    async def _send(self, request: Request) -> Completion:
        if self.fatal is not None:
            raise self.fatal
        self.requests_sent += self.backend.remote
        try:
            return await self.backend.complete(request)
        except UserError as exc:
            self.fatal = exc
            raise
