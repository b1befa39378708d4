"""A local OpenAI-compatible chat server for tests, benchmarks and dry runs (no model behind it).

It answers /v1/chat/completions with a JSON quality score derived from the last image's bytes,
records every request, and can add latency and inject faults (429 with Retry-After, 500,
markdown-wrapped or malformed replies, stalls) on a fixed cycle, so runs are reproducible.
`python -m ldct_bench.stub_server --port 0` prints its URL; it also stands in for `vllm serve`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

FAULTS = ("ok", "429", "500", "400", "401", "markdown", "malformed", "stall", "drop", "unparseable", "refusal",
          "cutoff")


def hashed_score(body: dict[str, Any]) -> float:
    """A deterministic score in [0, 4] from the last image in the request."""
    images = [part["image_url"]["url"] for message in body.get("messages", [])
              if isinstance(message.get("content"), list)
              for part in message["content"] if part.get("type") == "image_url"]
    digest = hashlib.sha256((images[-1] if images else "").encode()).digest()
    return round(int.from_bytes(digest[:4], "big") / 2**32 * 4.0, 1)


@dataclass
class StubState:
    """What the server does and what it saw; tests change it between runs."""

    latency_s: float = 0.0
    faults: list[str] = field(default_factory=list)  # cycled per request; empty = always ok
    retry_after_s: float = 0.05
    stall_s: float = 5.0
    answer: Callable[[dict[str, Any]], str] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)  # headers: case-insensitive, as sent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self) -> tuple[str, dict[str, Any]]:
        with self.lock:
            index = len(self.requests)
            fault = self.faults[index % len(self.faults)] if self.faults else "ok"
            return fault, {"index": index}

    def reply_text(self, body: dict[str, Any], fault: str) -> str:
        if self.answer is not None:
            return self.answer(body)
        score = hashed_score(body)
        text = json.dumps({"score": score, "category": ["Bad", "Poor", "Fair", "Good", "Excellent"][min(int(score), 4)],
                           "explanation": "stub answer: moderate noise, mild streaks"})
        if fault == "markdown":
            return f"Here is my assessment:\n\n**Score (float): {score}**\n**Category:** Fair\nExplanation: noisy."
        if fault == "unparseable":
            return "The image shows the abdomen."
        if fault == "refusal":
            return "I'm sorry, but I can't help with medical images."
        return text


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

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/health", "/v1/models"):
            self._send(200, json.dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        state = self.state
        fault, _ = state.next_fault()
        with state.lock:
            state.requests.append({"body": body, "headers": self.headers, "fault": fault, "time": time.time()})
        if state.latency_s:
            time.sleep(state.latency_s)
        if fault == "429":
            return self._send(429, b'{"error": {"message": "rate limited", "type": "rate_limit"}}',
                              {"Retry-After": str(state.retry_after_s)})
        if fault == "500":
            return self._send(500, b'{"error": {"message": "internal error"}}')
        if fault == "400":
            return self._send(400, b'{"error": {"message": "maximum context length exceeded", "type": "invalid_request_error"}}')
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
        prompt_tokens, _ = _count_tokens(body)
        text = "" if fault == "cutoff" else state.reply_text(body, fault)  # cutoff: the token budget went on thinking
        payload = {
            "id": f"stub-{len(state.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "length" if fault == "cutoff" else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 512 if fault == "cutoff" else len(text) // 4,
                      "total_tokens": prompt_tokens + len(text) // 4,
                      "prompt_tokens_details": {"cached_tokens": 0}},
        }
        self._send(200, json.dumps(payload).encode())


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
    args, _ = parser.parse_known_args()  # a stand-in for `vllm serve` ignores vLLM's own flags
    state = StubState(latency_s=args.latency, faults=[f for f in args.faults.split(",") if f])
    server = make_server(state, args.host, args.port)
    print(f"stub OpenAI-compatible server on http://{args.host}:{server.server_address[1]}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
