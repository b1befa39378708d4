"""How hard one endpoint may be asked, shared by every run that reaches it.

A vendor limits a key, not a run: the points of a sweep that reach the same base URL with the same key share
one `EndpointLimits`: at most `concurrency` requests in flight, request starts paced by the card's requests
and tokens per minute, and one backoff. A 429 halves the concurrency they share (not more than once per
round of requests in flight, since a burst of 429s is one signal) and holds new starts for the Retry-After;
the limit then grows back by one after each `limit` answers in a row, up to the card's concurrency.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator

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


@dataclass
class EndpointLimits:
    """One endpoint's shared budget: the gate for requests in flight and the pacer for request starts."""

    gate: Gate
    pacer: Pacer
    users: list[str] = field(default_factory=list)  # runs sharing it, by card name


class Endpoints:
    """The limits of every endpoint reached in this process, keyed by base URL and (a digest of) the key."""

    def __init__(self) -> None:
        self._limits: dict[tuple[str, str], EndpointLimits] = {}

    def limits(self, base_url: str, key: str, concurrency: int, rpm: float | None, tpm: float | None,
               user: str) -> EndpointLimits:
        """The shared limits of an endpoint; the first run to reach it sets them, later ones may only lower them."""
        ident = (base_url.rstrip("/"), hashlib.sha256(key.encode()).hexdigest())
        found = self._limits.get(ident)
        if found is None:
            found = self._limits[ident] = EndpointLimits(Gate(concurrency), Pacer(rpm, tpm))
        else:
            found.gate.ceiling = min(found.gate.ceiling, max(1, concurrency))
            found.gate.limit = min(found.gate.limit, found.gate.ceiling)
            found.pacer.tighten(rpm, tpm)
        found.users.append(user)
        return found

    def shared(self) -> list[tuple[str, EndpointLimits]]:
        """(base URL, limits) of every endpoint reached."""
        return [(url, limits) for (url, _), limits in self._limits.items()]
