"""Local models through vLLM's OpenAI-compatible server: attach to a running one, or launch our own.

With `model.base_url` the backend talks to that server. Without it, it launches `model.serve.command`
(by default `vllm serve {hf_id} --host {host} --port {port}`, plus the card's max model length,
images per prompt, tensor parallel size and extra args) on a free local port, in its own process
group, with its output in `<run dir>/vllm-server.log`; waits for the health endpoint; and stops the
whole group when the run ends, fails or is interrupted (Ctrl-C, SIGTERM, interpreter exit), so no
server outlives its run. Tests launch a stand-in server through exactly this path.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ldct_bench.backends.limits import Endpoints
from ldct_bench.backends.openai_compat import OpenAICompatible, read_key
from ldct_bench.cards.checks import check_model_card
from ldct_bench.config.schema import ModelCard
from ldct_bench.data.task import Task
from ldct_bench.errors import UserError
from ldct_bench.secrets import flag_secrets, redact

LOG_NAME = "vllm-server.log"
HOST = "127.0.0.1"
STOP_GRACE_S = 20.0  # vLLM frees GPU memory on SIGTERM; give it time before SIGKILL


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_command(card: ModelCard, host: str, port: int) -> list[str]:
    """The launch command: placeholders filled, then the card's serve settings as vLLM flags."""
    serve = card.serve
    fill = {"{hf_id}": serve.hf_id, "{host}": host, "{port}": str(port)}
    command = []
    for part in serve.command:
        for placeholder, value in fill.items():
            part = part.replace(placeholder, value)
        command.append(part)
    if card.model_id and card.model_id != serve.hf_id:
        command += ["--served-model-name", card.model_id]
    if serve.max_model_len:
        command += ["--max-model-len", str(serve.max_model_len)]
    if serve.images_per_prompt:
        size = {"width": serve.image_px, "height": serve.image_px} if serve.image_px else {}
        limit = {"count": serve.images_per_prompt, **size} if size else serve.images_per_prompt
        command += ["--limit-mm-per-prompt", json.dumps({"image": limit})]
    if serve.tensor_parallel_size and serve.tensor_parallel_size > 1:
        command += ["--tensor-parallel-size", str(serve.tensor_parallel_size)]
    return command + [str(arg) for arg in serve.args]


def _get_status(url: str, headers: dict[str, str], timeout: float) -> int | None:
    """HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _copy_masked(stream: Any, log_path: Path, secrets: list[str]) -> None:
    """Copy the server's output into its log line by line with credentials masked (vLLM prints its arguments)."""
    with stream, open(log_path, "ab") as log:
        for line in stream:
            log.write(redact(line.decode(errors="replace"), secrets).encode())
            log.flush()


class ServerProcess:
    """A child server in its own process group, logging to a file; `stop` ends the whole group."""

    def __init__(self, command: list[str], log_path: Path):
        self.command, self.log_path = command, log_path
        self.proc: subprocess.Popen | None = None
        self._previous_sigterm: Any = None
        self._secrets = flag_secrets(command)
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            launching = redact(shlex.join(self.command), self._secrets)
            now = time.time()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
            log.write(f"# {stamp} launching: {launching}\n".encode())
            log.flush()
            try:
                self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
            except OSError as exc:
                raise UserError(f"cannot launch the model server ({self.command[0]}: {exc.strerror}); "
                                'install vLLM (pip install -e ".[vllm]") or fix model.serve.command') from None
            log.write(f"# pid {self.proc.pid}\n".encode())
        self._pump = threading.Thread(target=_copy_masked, args=(self.proc.stdout, self.log_path, self._secrets),
                                      daemon=True)
        self._pump.start()
        atexit.register(self.stop)
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        """Stop the server, then let SIGTERM do what it did before."""
        self.stop()
        previous = self._previous_sigterm if callable(self._previous_sigterm) else signal.SIG_DFL
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)

    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def last_line(self) -> str:
        if self._pump is not None and self.exit_code() is not None:
            self._pump.join(timeout=5.0)  # the server is gone: let its last words reach the log
        lines = [line for line in self.log_path.read_text(errors="replace").splitlines()
                 if line and not line.startswith("# ")]
        return redact(lines[-1][:200]) if lines else "(no output)"

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after a grace period; safe to call twice."""
        proc, self.proc = self.proc, None
        atexit.unregister(self.stop)
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            try:  # the leader is gone; make sure its workers are too
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break


class VllmBackend(OpenAICompatible):
    """An OpenAI-compatible backend whose server this run may own."""

    def __init__(self, card: ModelCard, run_dir: Path, logprobs: bool = False, endpoints: Endpoints | None = None):
        check_model_card(card, f"model {card.name}")
        model_id = card.model_id or card.serve.hf_id
        endpoint_id = card.base_url or " ".join(["vllm:" + card.serve.hf_id, *map(str, card.serve.args)])
        self._bind(card, card.base_url or "", model_id, read_key(card, card.api_key_env), card.api_key_env,
                   endpoint_id, logprobs, endpoints)
        self.run_dir = Path(run_dir)
        self.server: ServerProcess | None = None

    async def start(self, task: Task) -> None:
        if self.card.base_url:
            await self._check_reachable()
        else:
            await self._launch()
        await super().start(task)

    async def _check_reachable(self) -> None:
        url = self.base_url.rstrip("/") + "/models"
        status = await asyncio.to_thread(_get_status, url, {"Authorization": f"Bearer {self._key}"}, 10.0)
        if status is None:
            raise UserError(f"model {self.card.name}: no server answers at {self.base_url}; start it "
                            "(vllm serve ...) or drop model.base_url to let ldct-bench launch one")

    async def _launch(self) -> None:
        serve = self.card.serve
        port = free_port()
        self.server = ServerProcess(serve_command(self.card, HOST, port), self.run_dir / LOG_NAME)
        self.server.start()
        root = f"http://{HOST}:{port}"
        health = root + "/" + serve.health_path.lstrip("/")
        deadline = time.monotonic() + serve.startup_timeout_s
        while True:
            code = self.server.exit_code()
            if code is not None:
                last = self.server.last_line()
                self.server.stop()
                raise UserError(f"model {self.card.name}: the server exited with code {code} before it was ready "
                                f"(last line: {last}); see {self.server.log_path}")
            if await asyncio.to_thread(_get_status, health, {}, 2.0) == 200:
                break
            if time.monotonic() > deadline:
                self.server.stop()
                raise UserError(f"model {self.card.name}: the server was not ready after "
                                f"{serve.startup_timeout_s:g} s; see {self.server.log_path} "
                                "(raise model.serve.startup_timeout_s if it is still loading weights)")
            await asyncio.sleep(0.25)
        self.base_url = root + "/v1"

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.server is not None:
                self.server.stop()
