"""The instruments of benchmarks/throughput.py: the stand-in server's replies and log, and the figures
read from them (requests in flight, the ratio to the limit, CPU over the request phase)."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request

import pytest
from conftest import REPO

from ldct_bench.reading.answer import parse_answer

sys.path.insert(0, str(REPO / "benchmarks"))
import throughput  # noqa: E402  (benchmarks/ is not a package)


def chat_body(url_chars: int) -> bytes:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * url_chars}}
    return json.dumps({"model": "standin", "messages": [{"role": "user", "content": [image]}]}).encode()


def test_phase_reads_rate_and_requests_in_flight_from_the_log() -> None:
    rows = [[0.0, 0.0, 1.0, 10], [0.5, 0.6, 1.5, 30], [2.0, 2.0, 3.0, 20]]  # arrived, read, answered, bytes
    phase = throughput.phase_of(rows)
    assert (phase.requests, phase.seconds, phase.peak) == (3, 3.0, 2)
    assert phase.mean == pytest.approx(1.0)  # 3 request-seconds over a 3 s phase
    assert phase.ratio(throughput.Case("two", 0, 2, 1.0)) == pytest.approx(0.5)  # 1 req/s of C / latency = 2


def test_cpu_over_a_window_is_interpolated_between_samples() -> None:
    run = throughput.Exit(started=0.0, samples=[(0.0, 0.0), (1.0, 0.5), (2.0, 1.5)])
    assert run.cpu_between(0.5, 1.5) == pytest.approx(1.0 - 0.25)


def test_standin_answers_after_its_latency_and_logs_every_request() -> None:
    bodies = [chat_body(100), chat_body(2_000_000)]  # above aiohttp's default 1 MiB body limit
    with throughput.standin(0.1, keep=6) as (url, _):
        asyncio.run(throughput.bare_client(url, bodies, count=6, concurrency=3))
        rows = json.loads(throughput.control(url, "/_log"))["rows"]
        kept = [throughput.control(url, f"/_bodies/{index}") for index in range(6)]
        post = urllib.request.Request(f"{url}/chat/completions", data=bodies[0], method="POST",
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(post) as response:
            reply = json.loads(response.read())
        throughput.control(url, "/_reset", post=True)
        cleared = json.loads(throughput.control(url, "/_log"))["rows"]
    assert len(rows) == 6 and cleared == []
    assert all(answered - read >= 0.1 for _, read, answered, _ in rows)
    assert sorted(row[3] for row in rows) == sorted(len(bodies[i % 2]) for i in range(6))
    assert throughput.phase_of(rows).peak <= 3
    assert sorted(kept) == sorted(bodies[i % 2] for i in range(6))
    answer = parse_answer(reply["choices"][0]["message"]["content"])
    assert 0.0 <= answer.score <= 4.0 and reply["usage"]["prompt_tokens"] > 0
