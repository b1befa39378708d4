"""How hard one endpoint may be asked, shared by every run that reaches it.

A vendor limits a key, not a run: the points of a sweep that reach the same base URL with the same key share
one gate for requests in flight (as many as the largest concurrency their cards ask for; each point still
sends no more than its own card's) and one backoff. A 429 halves what they share (not more than once per
round of requests in flight, since a burst of 429s is one signal) and holds new starts for the Retry-After;
the limit then grows back by one after each `limit` answers in a row. Requests and tokens per minute are
set per model by the vendors, so runs of one model on one key share a pacer.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ldct_bench.backends.pacing import Pacer


class Gate:
    """At most `limit` holders at once; the limit adapts to the vendor's 429s (additive increase, halving)."""

    def __init__(self, ceiling: int):
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.in_flight = 0
        self.throttles = 0  # 429s seen
        self._streak = 0  # answers since the limit last changed
        self._since_cut = self.ceiling  # requests started since the last cut
        self._hold_until = 0.0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the endpoint's places for one request (waiting for one, and for any Retry-After)."""
        while self.in_flight >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
        self.in_flight += 1
        self._since_cut += 1
        try:
            wait = self._hold_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            yield
        finally:
            self.in_flight -= 1
            self._wake()

    def answered(self) -> None:
        """One good answer: after `limit` in a row the limit grows by one (up to the ceiling)."""
        self._streak += 1
        if self._streak >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self._streak = 0
            self._wake()

    def throttled(self, retry_after_s: float | None) -> None:
        """The vendor answered 429: halve the limit once per round in flight, hold new starts for Retry-After."""
        self.throttles += 1
        self._streak = 0
        if self._since_cut >= self.limit:
            self.limit = max(1, self.limit // 2)
            self._since_cut = 0
        if retry_after_s:
            self._hold_until = max(self._hold_until, time.monotonic() + retry_after_s)

    def _wake(self) -> None:
        """Let as many waiters try again as there are free places."""
        for _ in range(max(0, self.limit - self.in_flight)):
            while self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    break


@dataclass(frozen=True)
class EndpointLimits:
    """What one run asks through: its endpoint's gate for requests in flight, its model's pacer for starts."""

    gate: Gate
    pacer: Pacer


class Endpoints:
    """The limits of every endpoint reached in this process, keyed by base URL and (a digest of) the key."""

    def __init__(self) -> None:
        self._gates: dict[tuple[str, str], Gate] = {}
        self._pacers: dict[tuple[str, str, str], Pacer] = {}
        self._users: dict[tuple[str, str], list[str]] = {}

    def limits(self, base_url: str, key: str, model_id: str, concurrency: int, rpm: float | None,
               tpm: float | None, user: str) -> EndpointLimits:
        """The limits a run of `model_id` on this endpoint and key shares with the others that reach it."""
        ident = (base_url.rstrip("/"), hashlib.sha256(key.encode()).hexdigest())
        gate = self._gates.get(ident)
        if gate is None:
            gate = self._gates[ident] = Gate(concurrency)
        elif concurrency > gate.ceiling:
            gate.limit += concurrency - gate.ceiling
            gate.ceiling = concurrency
        pacer = self._pacers.get((*ident, model_id))
        if pacer is None:
            pacer = self._pacers[(*ident, model_id)] = Pacer(rpm, tpm)
        else:
            pacer.tighten(rpm, tpm)
        limits = EndpointLimits(gate, pacer)
        self._users.setdefault(ident, []).append(user)
        return limits

    def shared(self) -> list[tuple[str, Gate, list[str]]]:
        """(base URL, its gate, the runs using it) of every endpoint and key reached."""
        return [(url, gate, self._users[(url, key)]) for (url, key), gate in self._gates.items()]
