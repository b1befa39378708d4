"""An asyncio stand-in for an OpenAI-compatible server, for timing clients end to end.

It answers POST /v1/chat/completions after a fixed latency (counted from the moment the body has
been read) with a valid JSON score reply and usage, and keeps a log of every request: arrival,
body read, answer written (time.monotonic(), which on Linux is one clock for all processes, so a
measuring process can compare it with its own), and body size. It keeps the first --keep bodies so
that a bare client can replay exactly what the real command sent. Control routes, for the
measuring script only: GET /_log (the timings as JSON), GET /_bodies/N (kept body N),
POST /_reset (clear log and kept bodies). With --max-in-flight N it behaves like a vendor's concurrency limit:
a request that would be the N+1th in flight is refused at once with 429 and Retry-After (counted in /_log).

    python benchmarks/standin_server.py --latency 0.2 [--port 0] [--keep 32] [--max-in-flight N --retry-after S]

prints `stand-in server on http://127.0.0.1:PORT/v1` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import zlib
from dataclasses import dataclass, field

from aiohttp import web

CATEGORIES = ("Bad", "Poor", "Fair", "Good", "Excellent")
MAX_BODY = 256 * 2**20  # a 34-shot request is ~5 MB; aiohttp's default cap is 1 MiB


@dataclass
class Log:
    """What the server saw: one [arrived, read, answered, bytes] row per chat request."""

    latency_s: float
    keep: int
    max_in_flight: int | None = None
    retry_after_s: float = 1.0
    rows: list[list[float]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    in_flight: int = 0
    refused: int = 0


def reply(body: bytes, count: int) -> bytes:
    """A chat completion whose score depends on the request bytes (varied, reproducible, no JSON parse)."""
    score = round((zlib.crc32(body) % 41) / 10, 1)
    text = json.dumps({"score": score, "category": CATEGORIES[min(int(score), 4)],
                       "explanation": "stand-in answer: moderate noise, mild streaks"})
    prompt_tokens = 765 * body.count(b'"image_url"') + 300
    return json.dumps({
        "id": f"standin-{count}", "object": "chat.completion", "created": int(time.time()), "model": "standin",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text) // 4,
                  "total_tokens": prompt_tokens + len(text) // 4, "prompt_tokens_details": {"cached_tokens": 0}},
    }).encode()


def make_app(log: Log) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        if log.max_in_flight is not None and log.in_flight >= log.max_in_flight:
            log.refused += 1
            return web.json_response({"error": {"message": "too many requests in flight", "type": "rate_limit"}},
                                     status=429, headers={"Retry-After": f"{log.retry_after_s:g}"})
        log.in_flight += 1
        try:
            body = await request.read()
            read = time.monotonic()
            if len(log.bodies) < log.keep:
                log.bodies.append(body)
            await asyncio.sleep(log.latency_s)
            response = web.Response(body=reply(body, len(log.rows)), content_type="application/json")
            await response.prepare(request)
            await response.write_eof()
        finally:
            log.in_flight -= 1
        log.rows.append([arrived, read, time.monotonic(), len(body)])
        return response

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "standin", "object": "model"}]})

    async def timings(request: web.Request) -> web.Response:
        return web.json_response({"latency_s": log.latency_s, "rows": log.rows, "refused": log.refused})

    async def kept(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        if index >= len(log.bodies):
            raise web.HTTPNotFound()
        return web.Response(body=log.bodies[index], content_type="application/json")

    async def reset(request: web.Request) -> web.Response:
        log.rows.clear()
        log.bodies.clear()
        log.refused = 0
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=MAX_BODY)
    app.add_routes([web.post("/v1/chat/completions", chat), web.get("/v1/models", models),
                    web.get("/_log", timings), web.get("/_bodies/{index}", kept), web.post("/_reset", reset)])
    return app


async def serve(host: str, port: int, log: Log) -> None:
    runner = web.AppRunner(make_app(log), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)  # 32 clients connecting at once overflow a small backlog
    await site.start()
    bound = runner.addresses[0][1]
    print(f"stand-in server on http://{host}:{bound}/v1", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds between reading a body and answering")
    parser.add_argument("--keep", type=int, default=32, help="how many request bodies to keep for replay")
    parser.add_argument("--max-in-flight", type=int, default=None, help="refuse requests beyond this many with 429")
    parser.add_argument("--retry-after", type=float, default=1.0, help="seconds the 429's Retry-After asks for")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port, Log(args.latency, args.keep, args.max_in_flight, args.retry_after)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
