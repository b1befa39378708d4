"""Request pacing by requests and input tokens per minute, on a fake clock (no real waiting)."""

import asyncio

from ldct_bench.backends.pacing import Pacer


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def starts(pacer: Pacer, clock: FakeTime, sizes: list[int]) -> list[float]:
    """Start times of requests issued one after another."""
    async def go():
        times = []
        for tokens in sizes:
            await pacer.wait(tokens)
            times.append(round(clock.now, 6))
        return times
    return asyncio.run(go())


def test_tokens_per_minute_space_large_requests():
    t = FakeTime()
    pacer = Pacer(rpm=None, tpm=15000, clock=t.clock, sleep=t.sleep)
    # a full bucket lets the first start at once; then 250 tokens/s refill the next 9,000
    assert starts(pacer, t, [9000, 9000, 9000]) == [0.0, 12.0, 48.0]


def test_requests_per_minute_and_tokens_both_bind():
    t = FakeTime()
    pacer = Pacer(rpm=30, tpm=60000, clock=t.clock, sleep=t.sleep)
    assert starts(pacer, t, [100, 100, 100]) == [0.0, 2.0, 4.0]  # small requests: the request rate binds
    t2 = FakeTime()
    pacer = Pacer(rpm=30, tpm=1200, clock=t2.clock, sleep=t2.sleep)
    assert starts(pacer, t2, [1200, 600]) == [0.0, 30.0]  # 20 tokens/s: 600 more take 30 s, more than 2 s


def test_a_request_larger_than_the_bucket_waits_for_a_full_bucket_and_no_limits_never_wait():
    t = FakeTime()
    pacer = Pacer(rpm=None, tpm=6000, clock=t.clock, sleep=t.sleep)
    assert starts(pacer, t, [50000, 50000]) == [0.0, 60.0]
    free = Pacer(None, None, clock=t.clock, sleep=t.sleep)
    assert not free.counts_tokens and starts(free, t, [10**6] * 3) == [60.0] * 3


def test_concurrent_callers_are_served_in_order_of_arrival():
    t = FakeTime()
    pacer = Pacer(rpm=60, tpm=None, clock=t.clock, sleep=t.sleep)
    order = []

    async def one(i):
        await pacer.wait(0)
        order.append(i)

    async def go():
        await asyncio.gather(*(one(i) for i in range(5)))
    asyncio.run(go())
    assert order == [0, 1, 2, 3, 4]
