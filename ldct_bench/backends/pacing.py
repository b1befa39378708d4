"""Request pacing by requests per minute and input tokens per minute.

Vendors limit both: Gemma 3 on Google's free tier allows 30 requests but only 15,000 input tokens a minute,
so a 35-image prompt of ~9,000 tokens may start about once every 36 s whatever the request rate says.
`Pacer.wait(tokens)` reserves each request's start: at least 60/rpm seconds after the previous one, and
not before a token bucket (capacity one minute of `tpm`, refilled at tpm/60 per second, full at first)
holds the request's estimated input tokens. A request larger than the bucket waits for a full bucket.
Reservations are made under a lock and slept outside it, so concurrent callers queue in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Start times that respect `rpm` and `tpm` (either may be None: no limit of that kind)."""

    def __init__(self, rpm: float | None, tpm: float | None, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep):
        self.rpm, self.tpm = rpm or None, tpm or None
        self._clock, self._sleep = clock, sleep
        self._lock = asyncio.Lock()
        self._next_start = 0.0  # earliest start the request rate allows
        self._level = float(self.tpm or 0)  # tokens in the bucket at `_updated`
        self._updated: float | None = None

    def tighten(self, rpm: float | None, tpm: float | None) -> None:
        """Take the stricter of each limit (another run sharing this endpoint asks for less)."""
        self.rpm = min(filter(None, (self.rpm, rpm)), default=None)
        tighter = min(filter(None, (self.tpm, tpm)), default=None)
        if tighter != self.tpm:
            self.tpm, self._level = tighter, float(tighter or 0)

    @property
    def counts_tokens(self) -> bool:
        """Whether `wait` needs each request's token estimate (skip the work when it does not)."""
        return self.tpm is not None

    def _reserve(self, tokens: int, now: float) -> float:
        """The start time for a request of `tokens`, with the bucket and request slot taken."""
        start = max(now, self._next_start)
        if self.tpm is not None:
            rate = self.tpm / 60.0
            need = min(float(tokens), float(self.tpm))
            updated = now if self._updated is None else self._updated
            start = max(start, updated)  # in order: never before the previous reservation
            level = min(float(self.tpm), self._level + rate * (start - updated))
            if level < need:
                start += (need - level) / rate
                level = need
            self._level, self._updated = level - need, start
        if self.rpm is not None:
            self._next_start = start + 60.0 / self.rpm
        return start

    async def wait(self, tokens: int = 0) -> None:
        """Sleep until a request of about `tokens` input tokens may start."""
        if self.rpm is None and self.tpm is None:
            return
        async with self._lock:
            now = self._clock()
            delay = self._reserve(tokens, now) - now
        if delay > 0:
            await self._sleep(delay)
