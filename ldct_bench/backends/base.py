"""The small typed values that flow between strategy, backend and runner."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ldct_bench.data.task import Item, Task
from ldct_bench.reading.answer import Answer


@dataclass
class Request:
    """One chat for one item: the messages to send and which examples they show."""

    item: Item
    messages: list[dict[str, Any]]
    example_ids: list[str] = field(default_factory=list)
    body: bytes | None = None  # the messages as the backend sends them, made ahead by `prepare` (None: not yet)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens,
                     self.cached_tokens + other.cached_tokens)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    attempts: int = 1
    # Per generated token: {"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}, when asked for.
    logprobs: list[dict[str, Any]] | None = None
    answer: Answer | None = None  # a model that scores by itself (the pixel baseline) hands its answer over


class ModelBackend(Protocol):
    """What the runner needs of a model: prepare and send one request at a time, and say what it is."""

    # True for answers that come from an endpoint (each one a request, cached by the response cache); False for a
    # model computed here (the pixel baseline: nothing is sent, and its answers depend on the train split)
    remote: bool

    async def start(self, task: Task) -> None:
        """Get ready for a task (fit a baseline, launch a server)."""

    def prepare(self, request: Request) -> Request:
        """Make what `complete` will send (called in a worker thread, ahead of sending); may return it unchanged."""

    async def complete(self, request: Request) -> Completion:
        """One answer for one request; raises BackendError when it cannot be had."""

    async def close(self) -> None:
        """Release connections and child processes."""

    def identity(self) -> dict[str, Any]:
        """What determines the answer (the response-cache key), never retry or timeout settings."""


class BackendError(RuntimeError):
    """A request that failed for good (after retries); the reason is recorded on the item."""
