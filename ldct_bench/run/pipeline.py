"""Requests built ahead of the senders, so the event loop only sends.

Reading a slice, windowing it, encoding the PNG and the JSON body cost milliseconds of CPU per request;
done on the event loop one item at a time they starve dozens of concurrent senders. Here worker threads
build a few requests ahead (Pillow, numpy and zlib release the GIL) and hand them over through a small
queue, so at most a few built requests wait in memory at any time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

BUILD_WORKERS = 2  # threads that build requests; two cores here


def _built(build: Callable[[T, int], R], item: T, index: int) -> R | BaseException:
    """A request, or the exception that building it raised (the handler decides what it means)."""
    try:
        return build(item, index)
    except Exception as exc:  # noqa: BLE001 - handed on: one item's failure, or a reason to stop the run
        return exc


async def send_all(todo: list[tuple[int, T]], build: Callable[[T, int], R],  # (item, index among all) -> request
                   handle: Callable[[T, R | BaseException], Awaitable[None]], senders: int,
                   stopped: Callable[[], bool]) -> None:
    """Build each (index, item)'s request in worker threads, a few ahead, and pass it to `handle`, at most
    `senders` at a time; no new item is taken once `stopped()` is true (handlers already running finish)."""
    if not todo:
        return
    senders = max(1, min(senders, len(todo)))
    ready: asyncio.Queue = asyncio.Queue(maxsize=max(2, senders // 2))  # built requests waiting for a sender
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=BUILD_WORKERS, thread_name_prefix="ldct-build")

    async def produce() -> None:
        window: deque = deque()
        for index, item in todo:
            if stopped():
                break
            window.append((item, loop.run_in_executor(pool, _built, build, item, index)))
            if len(window) > BUILD_WORKERS:
                item, built = window.popleft()
                await ready.put((item, await built))
        while window:
            item, built = window.popleft()
            await ready.put((item, await built))
        for _ in range(senders):
            await ready.put(None)

    async def send() -> None:
        while not stopped():
            got = await ready.get()
            if got is None or stopped():
                return
            await handle(*got)

    producer = asyncio.create_task(produce())
    try:
        await asyncio.gather(*(send() for _ in range(senders)))
    finally:
        producer.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
