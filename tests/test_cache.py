"""The response cache: what its key covers, what goes in, the three modes, and two writers at once."""

import asyncio
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from test_backend_openai import CHAT, compose_cfg

from ldct_bench.backends.base import Request
from ldct_bench.backends.openai_compat import OpenAICompatible
from ldct_bench.config.schema import CacheMode
from ldct_bench.data.task import Item
from ldct_bench.errors import UserError
from ldct_bench.run.asking import Asker
from ldct_bench.run.cache import ResponseCache

ITEM = Item("x", "test", 2.0)


def ask(stub, cache_dir, mode: CacheMode, *overrides: str, reasks: int = 0):
    """One item through the real Asker, backend and cache; returns (outcome, requests sent)."""
    card = compose_cfg(*stub.model_args(), *overrides).model

    async def go():
        backend = OpenAICompatible(card)
        cache = None if mode == CacheMode.off else ResponseCache(cache_dir)
        await backend.start(None)
        try:
            asker = Asker(backend, cache, mode, reasks)
            return await asker.ask(Request(ITEM, CHAT)), asker.requests_sent
        finally:
            await backend.close()
            if cache is not None:
                cache.close()

    return asyncio.run(go())


def rows(cache_dir) -> int:
    with sqlite3.connect(cache_dir / "responses.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")


def test_key_ignores_concurrency_timeout_and_retries_but_not_generation_settings(stub, tmp_path, keyed):
    first, sent = ask(stub, tmp_path, CacheMode.use)
    assert sent == 1 and not first.cached
    for same in ("model.concurrency=3", "model.timeout_s=5", "model.max_retries=1", "model.rate_limit_rpm=600",
                 "model.description=other"):
        outcome, sent = ask(stub, tmp_path, CacheMode.use, same)
        assert sent == 0 and outcome.cached and outcome.answer == first.answer, same
    same_server_other_name = "model.base_url=" + stub.url.replace("127.0.0.1", "localhost")
    for different in ("model.temperature=0.7", "model.model_id=other-model", "model.max_tokens=100",
                      "model.structured_output=true", "model.image_detail=low", same_server_other_name):
        before = len(stub.requests)
        outcome, sent = ask(stub, tmp_path, CacheMode.use, different)
        assert sent == 1 and not outcome.cached and len(stub.requests) == before + 1, different


def test_only_good_answers_are_cached(stub, tmp_path, keyed):
    stub.state.faults = ["unparseable"]
    outcome, _ = ask(stub, tmp_path, CacheMode.use)
    assert outcome.answer is None and rows(tmp_path) == 0
    stub.state.faults = ["500"]
    outcome, _ = ask(stub, tmp_path, CacheMode.use, "model.max_retries=0")
    assert outcome.answer is None and rows(tmp_path) == 0
    stub.state.faults = ["unparseable", "ok"]  # a re-asked answer is cached under the original question
    stub.state.requests.clear()
    outcome, sent = ask(stub, tmp_path, CacheMode.use, reasks=1)
    assert outcome.answer is not None and sent == 2 and rows(tmp_path) == 1
    again, sent = ask(stub, tmp_path, CacheMode.use, reasks=1)
    assert sent == 0 and again.cached and again.answer == outcome.answer and again.usage == outcome.usage


def test_modes_use_refresh_off(stub, tmp_path, keyed):
    ask(stub, tmp_path, CacheMode.use)
    _, sent = ask(stub, tmp_path, CacheMode.use)
    assert sent == 0
    with sqlite3.connect(tmp_path / "responses.sqlite") as db:
        db.execute("UPDATE responses SET text = ?", ('{"score": 0.5, "category": "Bad", "explanation": "old"}',))
    outcome, sent = ask(stub, tmp_path, CacheMode.use)
    assert sent == 0 and outcome.answer.score == 0.5
    outcome, sent = ask(stub, tmp_path, CacheMode.refresh)
    assert sent == 1 and not outcome.cached and outcome.answer.explanation.startswith("stub answer")
    outcome, sent = ask(stub, tmp_path, CacheMode.use)
    assert sent == 0 and outcome.answer.explanation.startswith("stub answer"), "refresh overwrote the stored answer"
    off_dir = tmp_path / "off"
    ask(stub, off_dir, CacheMode.off)
    outcome, sent = ask(stub, off_dir, CacheMode.off)
    assert sent == 1 and not off_dir.exists()


WRITER = textwrap.dedent("""
    import sys
    from ldct_bench.run.cache import ResponseCache
    cache = ResponseCache(sys.argv[1])
    for i in range(1000):
        cache.put(f"{sys.argv[2]}-{i}", "m", "x" * 2000, {"prompt_tokens": i})
        assert cache.get(f"{sys.argv[2]}-{i // 2}") is not None
    cache.close()
""")


def test_two_processes_writing_the_same_cache_stay_intact(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name], stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with sqlite3.connect(tmp_path / "responses.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 2000
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unusable_cache_is_one_clear_line(tmp_path):
    (tmp_path / "responses.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match="cache.mode=off"):
        ResponseCache(tmp_path)
