"""A local OpenAI-compatible chat server for tests, benchmarks and dry runs (no model behind it).

It answers /v1/chat/completions with a JSON quality score derived from the last image's bytes,
records every request, and can add latency and inject faults (429 with Retry-After, 500,
markdown-wrapped or malformed replies, stalls) on a fixed cycle, so runs are reproducible.
`python -m ldct_bench.testing.stub_server --port 0` prints its URL; it also stands in for `vllm serve`.
It also serves OpenAI's Batch API (/v1/files, /v1/batches) through ldct_bench.testing.batch_stub.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import io
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from ldct_bench.testing.batch_stub import LINE_FAULTS, PLANS, BatchStub

FAULTS = ("ok", "429", "500", "400", "401", "markdown", "malformed", "stall", "drop", "unparseable", "refusal",
          "cutoff", "trickle")
LEVEL_WIDTH = 0.8  # how sharply the stand-in's level probabilities peak around its score


def hashed_score(body: dict[str, Any]) -> float:
    """A deterministic score in [0, 4] from the pixels of the last image in the request (not its bytes, so an
    encoder setting that changes the PNG but not the picture changes no answer)."""
    images = [part["image_url"]["url"] for message in body.get("messages", [])
              if isinstance(message.get("content"), list)
              for part in message["content"] if part.get("type") == "image_url"]
    digest = hashlib.sha256(_pixels(images[-1]) if images else b"").digest()
    return round(int.from_bytes(digest[:4], "big") / 2**32 * 4.0, 1)


@functools.lru_cache(maxsize=1024)
def _pixels(url: str) -> bytes:
    """The decoded pixels of a data-URL image (the URL itself when it is not one)."""
    try:
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
            return image.tobytes()
    except (IndexError, ValueError, OSError):
        return url.encode()


@dataclass
class StubState:
    """What the server does and what it saw; tests change it between runs."""

    latency_s: float = 0.0
    faults: list[str] = field(default_factory=list)  # cycled per request; empty = always ok
    retry_after_s: float = 0.05
    stall_s: float = 5.0
    trickle_s: float = 2.0  # "trickle": the body comes one byte at a time, this far apart
    answer: Callable[[dict[str, Any]], str] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)  # headers: case-insensitive, as sent
    max_concurrent: int | None = None  # refuse a request beyond this many in flight with 429 (a vendor's limit)
    in_flight: int = 0
    max_in_flight: int = 0  # the most chat requests it ever held at once
    refused: int = 0  # requests refused for max_concurrent
    batch: BatchStub = field(default_factory=BatchStub)  # the Batch API's settings and what it saw
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self) -> tuple[str, dict[str, Any]]:
        with self.lock:
            index = len(self.requests)
            fault = self.faults[index % len(self.faults)] if self.faults else "ok"
            return fault, {"index": index}

    def reply_text(self, body: dict[str, Any], fault: str, index: int = 0) -> str:
        if self.answer is not None:
            return self.answer(body)
        score = sampled_score(body, index)
        text = json.dumps({"score": score, "category": ["Bad", "Poor", "Fair", "Good", "Excellent"][min(int(score), 4)],
                           "explanation": "stub answer: moderate noise, mild streaks"})
        if fault == "markdown":
            return f"Here is my assessment:\n\n**Score (float): {score}**\n**Category:** Fair\nExplanation: noisy."
        if fault == "unparseable":
            return "The image shows the abdomen."
        if fault == "refusal":
            return "I'm sorry, but I can't help with medical images."
        return text


def sampled_score(body: dict[str, Any], index: int) -> float:
    """The hashed score; at a temperature above 0, moved by a seeded draw per request, like a sampling model."""
    score = hashed_score(body)
    temperature = body.get("temperature") or 0.0
    if temperature > 0:
        score = min(4.0, max(0.0, round(score + random.Random(index).gauss(0.0, 0.4 * temperature), 1)))
    return score


def level_logprobs(text: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Token log-probabilities for a reply: digits are tokens of their own; at the score's first digit the five
    levels get known probabilities (peaked at the hashed score), elsewhere the token is certain."""
    center = hashed_score(body)
    weights = [math.exp(-((level - center) / LEVEL_WIDTH) ** 2) for level in range(5)]
    levels = [{"token": str(level), "logprob": math.log(w / sum(weights))} for level, w in enumerate(weights)]
    start = text.find('"score": ') + len('"score": ') if '"score": ' in text else -1
    tokens, offset = [], 0
    for piece in re.findall(r"\d|\D+", text):
        if offset == start:
            tokens.append({"token": piece, "logprob": levels[int(piece)]["logprob"] if piece in "01234" else 0.0,
                           "bytes": None, "top_logprobs": levels})
        else:
            tokens.append({"token": piece, "logprob": 0.0, "bytes": None,
                           "top_logprobs": [{"token": piece, "logprob": 0.0}]})
        offset += len(piece)
    return tokens


ERROR_REPLIES = {
    "500": (500, {"error": {"message": "internal error"}}),
    "400": (400, {"error": {"message": "maximum context length exceeded", "type": "invalid_request_error"}}),
}


def chat_reply(state: StubState, body: dict[str, Any], fault: str = "ok", index: int = 0) -> tuple[int, dict[str, Any]]:
    """The status and JSON body /v1/chat/completions answers for a request body under a fault; batch lines are
    answered by this same function, so batch and chat runs of the same requests give the same predictions."""
    if fault in ERROR_REPLIES:
        return ERROR_REPLIES[fault]
    prompt_tokens, _ = _count_tokens(body)
    # cutoff: the token budget went on thinking
    text = "" if fault == "cutoff" else state.reply_text(body, fault, index)
    return 200, {
        "id": f"stub-{index + 1}", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "stub"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": {"content": level_logprobs(text, body)} if body.get("logprobs") else None,
                     "finish_reason": "length" if fault == "cutoff" else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 512 if fault == "cutoff" else len(text) // 4,
                  "total_tokens": prompt_tokens + len(text) // 4,
                  "prompt_tokens_details": {"cached_tokens": 0}},
    }


def _count_tokens(body: dict[str, Any]) -> tuple[int, int]:
    images, chars = 0, 0
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        else:
            for part in content or []:
                images += part.get("type") == "image_url"
                chars += len(part.get("text", ""))
    return images * 765 + chars // 4, images


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    state: StubState  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return None

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _batch_api(self, method: str, raw: bytes = b"") -> bool:
        """Serve a Batch API path (files, batches); False when the path is not one."""
        answer = functools.partial(chat_reply, self.state)
        reply = self.state.batch.handle(method, self.path, self.headers.get("Content-Type", ""), raw, answer)
        if reply is not None:
            self._send(reply[0], reply[1], content_type=reply[2])
        return reply is not None

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/health", "/v1/models"):
            self._send(200, json.dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}).encode())
        elif not self._batch_api("GET"):
            self._send(404, b'{"error": {"message": "not found"}}')

    def _trickle(self, payload: bytes) -> None:
        """A 200 whose body arrives one byte at a time: per-read timeouts never fire, only a deadline does."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            for byte in payload:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(self.state.trickle_s)
        except OSError:  # the client gave up
            self.close_connection = True

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self._batch_api("POST", raw):
            return None
        state = self.state
        with state.lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            over = state.max_concurrent is not None and state.in_flight > state.max_concurrent
            state.refused += over
        try:
            if over:
                return self._send(429, b'{"error": {"message": "too many requests in flight", "type": "rate_limit"}}',
                                  {"Retry-After": str(state.retry_after_s)})
            return self._chat(json.loads(raw or b"{}"))
        finally:
            with state.lock:
                state.in_flight -= 1

    def _chat(self, body: dict[str, Any]) -> None:
        state = self.state
        fault, where = state.next_fault()
        with state.lock:
            state.requests.append({"body": body, "headers": self.headers, "fault": fault, "time": time.time()})
        if state.latency_s:
            time.sleep(state.latency_s)
        if fault == "429":
            return self._send(429, b'{"error": {"message": "rate limited", "type": "rate_limit"}}',
                              {"Retry-After": str(state.retry_after_s)})
        if fault == "401":  # like real providers, echo the key that was refused
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            return self._send(401, json.dumps({"error": {"message": f"Incorrect API key provided: {key}",
                                                         "type": "invalid_request_error"}}).encode())
        if fault == "stall":
            time.sleep(state.stall_s)
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if fault == "malformed":
            return self._send(200, b'{"choices": [ this is not json')
        status, payload = chat_reply(state, body, fault, where["index"])
        if fault == "trickle":
            return self._trickle(json.dumps(payload).encode())
        self._send(status, json.dumps(payload).encode())


class StubHTTPServer(ThreadingHTTPServer):
    request_queue_size = 256  # the default listen backlog of 5 resets connections when 32 clients connect at once


def make_server(state: StubState, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    handler = type("BoundStubHandler", (StubHandler,), {"state": state})
    server = StubHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every reply")
    parser.add_argument("--faults", default="", help=f"comma-separated cycle of: {', '.join(FAULTS)}")
    parser.add_argument("--batch-seconds", type=float, default=1.0, help="a batch's time from creation to completion")
    parser.add_argument("--batch-plans", default="", help=f"per created batch, in order: {', '.join(PLANS)}")
    parser.add_argument("--batch-expire-after", type=float, default=0.5,
                        help="an 'expire' batch expires once this fraction of its lines is answered")
    parser.add_argument("--batch-faults", default="", help=f"cycle over a batch's lines: {', '.join(LINE_FAULTS)}")
    args, _ = parser.parse_known_args()  # a stand-in for `vllm serve` ignores vLLM's own flags
    batch = BatchStub(seconds=args.batch_seconds, plans=_names(args.batch_plans, PLANS, parser),
                      expire_after=args.batch_expire_after, faults=_names(args.batch_faults, LINE_FAULTS, parser))
    state = StubState(latency_s=args.latency, faults=[f for f in args.faults.split(",") if f], batch=batch)
    server = make_server(state, args.host, args.port)
    print(f"stub OpenAI-compatible server on http://{args.host}:{server.server_address[1]}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def _names(value: str, allowed: tuple[str, ...], parser: argparse.ArgumentParser) -> list[str]:
    """A comma-separated flag's names; a misspelt one stops the server at start, not a batch later."""
    names = [name for name in value.split(",") if name]
    for name in names:
        if name not in allowed:
            parser.error(f"{name!r} is not one of {', '.join(allowed)}")
    return names


if __name__ == "__main__":
    main()
