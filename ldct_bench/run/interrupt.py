"""Ctrl-C during a run or a sweep: the first stops new requests and lets the ones in flight finish into the
journal (they are paid for, so the resume asks for nothing twice); a second abandons them at once."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class StopRequested(Exception):
    """The user asked the run to stop and it did, with every answer received in its journal."""


class GracefulStop:
    """Whether Ctrl-C was pressed once (stop sending) or twice (abandon what is in flight)."""

    def __init__(self) -> None:
        self.requested = False
        self._main: asyncio.Task | None = None

    def __call__(self) -> bool:
        return self.requested

    def _on_interrupt(self) -> None:
        if self.requested and self._main is not None:
            self._main.cancel()
            return
        self.requested = True
        print("\nldct-bench: stopping: no new requests; the ones in flight are being answered and saved "
              "(Ctrl-C again to abandon them)", file=sys.stderr, flush=True)

    async def guard(self, work: Awaitable[T]) -> T:
        """Await `work` with Ctrl-C handled as above (in the main thread; elsewhere Ctrl-C is Python's own)."""
        loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        try:
            loop.add_signal_handler(signal.SIGINT, self._on_interrupt)
        except (NotImplementedError, RuntimeError, ValueError):
            return await work
        try:
            return await work
        finally:
            loop.remove_signal_handler(signal.SIGINT)


def run_stoppable(work: Callable[[GracefulStop], Awaitable[T]]) -> T:
    """asyncio.run of `work(stop)`; a stop the user asked for ends as KeyboardInterrupt once the work has let go."""
    stop = GracefulStop()
    try:
        return asyncio.run(stop.guard(work(stop)))
    except (StopRequested, asyncio.CancelledError):
        raise KeyboardInterrupt from None
