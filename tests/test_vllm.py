"""The vLLM backend: launch a server through the card's serve command (a stand-in here), attach, and clean up."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import invoke, read_jsonl
from test_backend_openai import compose_cfg

from ldct_bench.backends.vllm import LOG_NAME, VllmBackend, serve_command
from ldct_bench.errors import UserError

STAND_IN = [sys.executable, "-m", "ldct_bench.testing.stub_server", "--host", "{host}", "--port", "{port}"]


def command_override(command: list[str]) -> str:
    return "model.serve.command=[" + ",".join(json.dumps(part) for part in command) + "]"


def server_pid(run_dir) -> int:
    return int(re.search(r"^# pid (\d+)$", (run_dir / LOG_NAME).read_text(), re.M).group(1))


def gone(pid: int, within: float = 10.0) -> bool:
    """True once no process `pid` exists (or only an unreaped zombie of it)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().split(")")[-1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_serve_command_carries_the_cards_settings_for_35_image_prompts():
    card = compose_cfg("model=qwen2.5-vl-72b-vllm").model
    command = serve_command(card, "127.0.0.1", 8123)
    assert command[:7] == ["vllm", "serve", "Qwen/Qwen2.5-VL-72B-Instruct", "--host", "127.0.0.1", "--port", "8123"]
    flags = dict(zip(command[7::2], command[8::2]))
    assert flags["--max-model-len"] == "32768" and flags["--tensor-parallel-size"] == "4"
    assert json.loads(flags["--limit-mm-per-prompt"]) == {"image": {"count": 35, "width": 512, "height": 512}}
    for name in ("gemma-3-vllm", "qwen2.5-vl-7b-vllm", "llama-4-scout-vllm", "llama-4-maverick-vllm"):
        card = compose_cfg(f"model={name}").model
        assert card.serve.images_per_prompt >= 35 and card.serve.max_model_len >= 32768, name
    assert compose_cfg("model=llama-4-scout-vllm").model.serve.tensor_parallel_size == 1
    assert compose_cfg("model=llama-4-maverick-vllm").model.serve.tensor_parallel_size == 8


def test_launched_server_answers_a_run_logs_to_the_run_dir_and_is_stopped(tmp_path, capsys):
    run_dir = tmp_path / "run"
    result = invoke(["model=qwen2.5-vl-7b-vllm", command_override(STAND_IN), "strategy=zero_shot", "limit=4",
                     f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err
    assert json.loads((run_dir / "results.json").read_text())["n_scored"] == 4
    assert all(r["error"] is None for r in read_jsonl(run_dir / "predictions.jsonl"))
    log = (run_dir / LOG_NAME).read_text()
    assert "--limit-mm-per-prompt" in log and "stub OpenAI-compatible server on" in log
    assert gone(server_pid(run_dir)), "the server outlived its run"


def test_attaches_to_a_running_server(stub, tmp_path, capsys):
    result = invoke(["model=gemma-3-vllm", f"model.base_url={stub.url}", "strategy=zero_shot", "limit=2",
                     f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 0, result.err
    assert len(stub.requests) == 2 and stub.requests[0]["body"]["model"] == "google/gemma-3-27b-it"
    assert not (tmp_path / "run" / LOG_NAME).exists()


def test_attach_to_nothing_fails_in_one_line(tmp_path, capsys):
    result = invoke(["model=gemma-3-vllm", "model.base_url=http://127.0.0.1:9/v1", "limit=1",
                     f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 2 and "no server answers at http://127.0.0.1:9/v1" in result.err


def _start(tmp_path, command, *overrides):
    backend = VllmBackend(compose_cfg("model=qwen2.5-vl-7b-vllm", command_override(command), *overrides).model,
                          tmp_path)

    async def go():
        try:
            await backend.start(None)
        finally:
            await backend.close()

    return backend, go


def test_server_that_dies_during_startup_is_reported_with_its_last_line(tmp_path):
    crash = [sys.executable, "-c", "import sys; print('CUDA out of memory', flush=True); sys.exit(3)", "{port}"]
    _, go = _start(tmp_path, crash)
    with pytest.raises(UserError, match=r"exited with code 3 .*CUDA out of memory.*vllm-server.log"):
        asyncio.run(go())


def test_server_that_never_gets_ready_is_killed_after_the_timeout(tmp_path):
    hang = [sys.executable, "-c", "import time; time.sleep(120)", "{port}"]
    _, go = _start(tmp_path, hang, "model.serve.startup_timeout_s=1")
    with pytest.raises(UserError, match="not ready after 1 s"):
        asyncio.run(go())
    assert gone(server_pid(tmp_path))


def test_ctrl_c_on_a_run_stops_its_server(tmp_path):
    run_dir = tmp_path / "run"
    slow = [*STAND_IN, "--latency", "30"]
    proc = subprocess.Popen([sys.executable, "-m", "ldct_bench", "model=qwen2.5-vl-7b-vllm", command_override(slow),
                             "strategy=zero_shot", "limit=2", f"hydra.run.dir={run_dir}"],
                            cwd=tmp_path, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        pid = wait_for_server(proc, run_dir)
        time.sleep(1.0)  # requests are in flight, answered in 30 s
        proc.send_signal(signal.SIGINT)  # the first asks the run to stop once they are answered
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)  # the second abandons them
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "stopping: no new requests" in err and "interrupted" in err
    assert gone(pid), "the server outlived an interrupted run"


SIGTERMED = """
import asyncio, sys, time
from pathlib import Path
from ldct_bench.backends.vllm import VllmBackend
from test_backend_openai import compose_cfg
from test_vllm import command_override, STAND_IN
card = compose_cfg("model=qwen2.5-vl-7b-vllm", command_override(STAND_IN)).model
backend = VllmBackend(card, Path(sys.argv[1]))
asyncio.run(backend.start(None))
time.sleep(120)
"""


def test_sigterm_to_the_parent_stops_its_server(tmp_path):
    """SIGTERM (a scheduler cancelling a job) kills Python without finally blocks: the handler stops the server."""
    proc = subprocess.Popen([sys.executable, "-c", SIGTERMED, str(tmp_path)], cwd=Path(__file__).parent,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)}, stderr=subprocess.PIPE,
                            text=True)
    try:
        pid = wait_for_server(proc, tmp_path)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGTERM
    assert gone(pid), "the server outlived its parent"


def wait_for_server(proc: subprocess.Popen, folder: Path) -> int:
    """The launched server's pid, once it is serving."""
    deadline = time.monotonic() + 120
    log = folder / LOG_NAME
    while not (log.exists() and "server on" in log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, "the server was not launched"
        time.sleep(0.2)
    return server_pid(folder)


def test_sweep_points_that_launch_their_own_server_take_turns_on_the_gpu(tmp_path, capsys):
    """Two vLLM cards without base_url in one sweep: the second server starts after the first run ended."""
    sweep = tmp_path / "sweep"
    result = invoke(["-m", "model=qwen2.5-vl-7b-vllm,gemma-3-vllm", command_override(STAND_IN), "strategy=zero_shot",
                     "limit=3", f"hydra.sweep.dir={sweep}"], capsys)
    assert result.code == 0, result.err[-2000:]
    runs = sorted(path.parent for path in sweep.rglob("results.json"))
    assert len(runs) == 2
    launched = {}
    for run in runs:
        stamp = re.search(r"^# (\S+ \S+)\.(\d{3}) launching", (run / LOG_NAME).read_text(), re.M)
        launched[run] = time.mktime(time.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")) + int(stamp.group(2)) / 1000
    first, second = sorted(runs, key=launched.get)
    assert launched[second] >= (first / "results.json").stat().st_mtime - 0.01  # its server was stopped by then
    assert all(gone(server_pid(run)) for run in runs)
