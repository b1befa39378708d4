"""One item's answer: response cache, the backend call, parsing, and re-asks when unreadable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .answer import Answer, AnswerError, parse_answer
from .backends.base import BackendError, Completion, ModelBackend, Request, Usage
from .cache import ResponseCache, cache_key
from .config import CacheMode
from .errors import UserError

REASK = "Your reply could not be read ({reason}). Answer again with only the JSON object asked for."


@dataclass
class Outcome:
    answer: Answer | None
    error: str | None = None
    raw: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    attempts: int = 0
    reasks: int = 0
    cached: bool = False


class Asker:
    def __init__(self, backend: ModelBackend, cache: ResponseCache | None, mode: CacheMode, reasks: int,
                 parse: Callable[[str | None], Any] = parse_answer):
        self.backend = backend
        self.parse = parse  # raises AnswerError on an unusable reply (a score by default; region labels too)
        self.cache = cache if getattr(backend, "cacheable", True) and mode != CacheMode.off else None
        self.mode = mode
        self.reasks = reasks
        self.requests_sent = 0
        self.fatal: UserError | None = None  # a rejected key or unknown model: every later ask fails at once

    async def ask(self, request: Request) -> Outcome:
        key = cache_key(self.backend.identity(), request.messages) if self.cache else ""
        if self.cache and self.mode == CacheMode.use:
            hit = self.cache.get(key)
            if hit is not None:
                text, usage = hit
                try:
                    return Outcome(self.parse(text), raw=text, usage=Usage(**usage), cached=True)
                except AnswerError:
                    pass  # an older parser accepted it; ask again
        outcome = Outcome(answer=None)
        messages = request.messages
        for reask in range(self.reasks + 1):
            try:
                completion = await self._send(Request(request.item, messages, request.example_ids))
            except BackendError as exc:
                outcome.error = str(exc)
                outcome.usage += getattr(exc, "usage", None) or Usage()  # a cut-off answer is still billed
                return outcome
            outcome.usage += completion.usage
            outcome.latency_s += completion.latency_s
            outcome.attempts += completion.attempts
            outcome.reasks = reask
            outcome.raw = completion.text
            try:
                outcome.answer, outcome.error = self.parse(completion.text), None
            except AnswerError as exc:
                outcome.error = f"unparseable answer ({exc})"  # the reason stays in the run's failure summary
                messages = [*request.messages, {"role": "assistant", "content": completion.text},
                            {"role": "user", "content": REASK.format(reason=exc)}]
                continue
            if self.cache:  # under the original messages, so a rerun of the same item is free
                self.cache.put(key, str(self.backend.identity().get("model_id")), completion.text,
                               outcome.usage.as_dict())
            return outcome
        return outcome

    async def _send(self, request: Request) -> Completion:
        if self.fatal is not None:
            raise self.fatal
        self.requests_sent += 1
        try:
            return await self.backend.complete(request)
        except UserError as exc:
            self.fatal = exc
            raise
