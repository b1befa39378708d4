"""Shared fixtures: an offline environment, a local OpenAI-compatible server, and run helpers."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ldct_bench.testing.stub_server import StubState, make_server

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the built demo and computed columns, shared by the whole session."""
    return tmp_path_factory.mktemp("data-store")


@pytest.fixture(autouse=True)
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_store: Path) -> Path:
    """No network, no user state: W&B offline in tmp, hub offline, per-test response cache."""
    cache = tmp_path / "cache"
    values = {
        "WANDB_MODE": "offline", "WANDB_DIR": tmp_path / "wandb", "WANDB_CACHE_DIR": tmp_path / "wandb-cache",
        "WANDB_DATA_DIR": tmp_path / "wandb-data", "WANDB_CONFIG_DIR": tmp_path / "wandb-config",
        "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": tmp_path / "hf", "LDCT_BENCH_DATA": data_store, "LDCT_BENCH_CACHE": cache,
        "HYDRA_FULL_ERROR": "0",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, str(value))
    for key in ("WANDB_API_KEY", "LDCT_BENCH_CARDS", "LDCT_IQA_PATH", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return cache


class Stub:
    """A running local OpenAI-compatible server and what it saw."""

    def __init__(self) -> None:
        self.state = StubState()
        self.server = make_server(self.state)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[dict]:
        return self.state.requests

    def model_args(self, key_env: str = "STUB_API_KEY") -> list[str]:
        """Overrides that point the generic card at this server."""
        return ["model=openai-compatible", f"model.base_url={self.url}", "model.model_id=stub-model",
                f"model.api_key_env={key_env}"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.close()


@pytest.fixture(scope="session")
def task_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared 40 train + 20 test release with regions, shared by the protocol tests."""
    from protocol_helpers import build_task

    return build_task(tmp_path_factory.mktemp("task-40-20"))


@pytest.fixture
def task(task_dir: Path, data_store: Path):
    """That release opened as a Task, rendered at the small test size."""
    from protocol_helpers import SMALL, open_task

    return open_task(task_dir, data_store, image_size=SMALL)


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, module: str = "ldct_bench",
            timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `python -m ldct_bench ARGS` (or another module) as a user would, capturing output."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@dataclass
class Invocation:
    code: int
    out: str
    err: str


def invoke(argv: list[str], capsys: pytest.CaptureFixture) -> Invocation:
    """Run the real entry point (`python -m ldct_bench ARGV`) in this process: faster than a subprocess."""
    from ldct_bench.__main__ import main

    old = sys.argv
    sys.argv = ["ldct_bench", *argv]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return Invocation(code, captured.out, captured.err)


def one_error(stderr: str) -> bool:
    """True when stderr holds exactly one `ldct-bench: error:` line and no traceback (progress bars aside)."""
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("ldct-bench: error")]
    return len(lines) == 1 and "Traceback" not in stderr


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class WandbSweep:
    """A finished `-m model=noise-baseline,stub logger=wandb` demo sweep and where its offline W&B runs went."""

    sweep_dir: Path
    wandb_dir: Path
    result: subprocess.CompletedProcess
    secret: str = "sk-ldcttest0123456789abcdef"

    @property
    def run_dirs(self) -> list[Path]:
        return sorted(path.parent for path in self.sweep_dir.rglob("results.json"))

    def run_dir(self, model: str) -> Path:
        (found,) = [d for d in self.run_dirs if json.loads((d / "results.json").read_text())["model"] == model]
        return found


@pytest.fixture(scope="session")
def wandb_sweep(tmp_path_factory: pytest.TempPathFactory, data_store: Path) -> Iterator[WandbSweep]:
    """A Hydra multirun over two models, the noise baseline and `stub` (a user's own card, served by the local
    server), with logger=wandb and W&B offline in a temporary folder (shared, ~15 s)."""
    root = tmp_path_factory.mktemp("wandb-sweep")
    server = Stub()
    cards = root / "cards" / "models"
    cards.mkdir(parents=True)
    (cards / "stub.yaml").write_text(f"backend: openai_compatible\nbase_url: {server.url}\nmodel_id: stub-model\n"
                                     "api_key_env: STUB_API_KEY\ndescription: the tests' local server\n")
    sweep = WandbSweep(root / "sweep", root / "wandb", None)  # type: ignore[arg-type]
    env = {"WANDB_MODE": "offline", "WANDB_DIR": str(sweep.wandb_dir), "WANDB_CACHE_DIR": str(root / "wandb-cache"),
           "WANDB_DATA_DIR": str(root / "wandb-data"), "WANDB_CONFIG_DIR": str(root / "wandb-config"),
           "WANDB_SILENT": "true", "WANDB_API_KEY": "", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "LDCT_BENCH_DATA": str(data_store), "LDCT_BENCH_CACHE": str(root / "cache"),
           "LDCT_BENCH_CARDS": str(root / "cards"), "STUB_API_KEY": "k"}
    sweep.wandb_dir.mkdir()
    sweep.result = run_cli(["-m", "model=noise-baseline,stub", "strategy=few_shot", "shots=2", "logger=wandb",
                            "limit=6", "logger.tags=[paper,demo]", f"+model.extra_body.api_key={sweep.secret}",
                            f"hydra.sweep.dir={sweep.sweep_dir}"], cwd=root, env=env, timeout=180)
    server.close()
    assert sweep.result.returncode == 0, sweep.result.stderr[-3000:]
    yield sweep


class FullJournalDisk:
    """A disk that takes `lines` journal lines (predictions.jsonl) and then refuses every write with ENOSPC."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        import ldct_bench.run.journal as journal

        self.limit: int | None = None
        self.written = 0
        self._fds: set[int] = set()
        real_open, real_write = os.open, os.write

        def tracking_open(path, flags, mode=0o777, **kwargs):
            fd = real_open(path, flags, mode, **kwargs)
            if str(path).endswith("predictions.jsonl"):
                self._fds.add(fd)
            return fd

        def limited_write(fd, data):
            if fd in self._fds and self.limit is not None:
                if self.written >= self.limit:
                    raise OSError(errno.ENOSPC, "No space left on device")
                self.written += 1
            return real_write(fd, data)

        monkeypatch.setattr(journal.os, "open", tracking_open)
        monkeypatch.setattr(journal.os, "write", limited_write)

    def after(self, lines: int) -> None:
        """Full once `lines` more journal lines are written."""
        self.limit, self.written = lines, 0

    def free(self) -> None:
        self.limit = None


@pytest.fixture
def full_journal_disk(monkeypatch: pytest.MonkeyPatch) -> FullJournalDisk:
    return FullJournalDisk(monkeypatch)
