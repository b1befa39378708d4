"""The OpenAI-compatible backend against a real local HTTP server: speed, keys, images, retries, re-asks."""

import asyncio
import base64
import io
import json
import secrets
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, read_jsonl, run_cli
from hydra import compose, initialize_config_dir
from PIL import Image

from ldct_bench.backends import openai_compat
from ldct_bench.backends.base import BackendError, Request
from ldct_bench.backends.openai_compat import OPENROUTER_URL, OpenAICompatible, resolve_endpoint
from ldct_bench.backends.vllm import free_port
from ldct_bench.cards.registry import register
from ldct_bench.config.schema import CacheMode
from ldct_bench.data.render import to_png
from ldct_bench.data.task import Item, load_task
from ldct_bench.errors import UserError
from ldct_bench.paths import resource_dir
from ldct_bench.run.asking import Asker
from ldct_bench.secrets import mask_secrets

ITEM = Item("x", "test", 2.0)
CHAT = [{"role": "system", "content": "Rate it."},
        {"role": "user", "content": [{"type": "text", "text": "Slice."},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]


def compose_cfg(*overrides: str):
    register()
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def stub_card(stub, *overrides: str):
    return compose_cfg(*stub.model_args(), *overrides).model


async def _complete(backend, messages=CHAT):
    await backend.start(None)
    try:
        return await backend.complete(Request(ITEM, messages))
    finally:
        await backend.close()


def files_containing(roots, needle: bytes) -> list[Path]:
    return [path for root in roots for path in Path(root).rglob("*")
            if path.is_file() and needle in path.read_bytes()]


@pytest.fixture
def built_demo(data_store):
    """The demo task built first, so the run's requests meet the server together rather than behind the build."""
    return load_task(compose_cfg().task)


def test_generic_card_run_is_concurrent_keyed_complete_and_free_to_rerun(stub, tmp_path, offline_env, built_demo):
    key = "sk-test-" + secrets.token_hex(16)
    stub.state.latency_s = 0.3
    args = stub.model_args() + ["strategy=zero_shot", "limit=20"]
    first = run_cli(args + [f"hydra.run.dir={tmp_path / 'run1'}"], cwd=tmp_path, env={"STUB_API_KEY": key})
    assert first.returncode == 0, first.stderr[-2000:]
    results = json.loads((tmp_path / "run1" / "results.json").read_text())
    assert stub.state.max_in_flight > 1  # the card's concurrency: several requests at once
    assert results["n_scored"] == 20 and results["coverage"] == 1.0 and results["requests_this_run"] == 20
    assert len(stub.requests) == 20
    assert all(r["headers"]["Authorization"] == f"Bearer {key}" for r in stub.requests)

    second = run_cli(args + [f"hydra.run.dir={tmp_path / 'run2'}"], cwd=tmp_path, env={"STUB_API_KEY": key})
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(stub.requests) == 20, "an identical rerun must be served from the cache"
    rerun = json.loads((tmp_path / "run2" / "results.json").read_text())
    assert rerun["requests_this_run"] == 0 and rerun["cached_answers"] == 20
    assert rerun["metrics"] == results["metrics"]

    assert list(offline_env.rglob("*.sqlite")), "the cache was written"
    assert files_containing([tmp_path / "run1", tmp_path / "run2", offline_env], key.encode()) == []
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert key not in output


def test_unset_key_fails_naming_the_variable_before_any_request(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MISSING_KEY_VAR", raising=False)
    result = invoke(stub.model_args("MISSING_KEY_VAR") + ["strategy=zero_shot", "limit=2",
                                                          f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert lines[-1].startswith("ldct-bench: error:") and "MISSING_KEY_VAR" in lines[-1]
    assert "Traceback" not in result.err
    assert stub.requests == []


def test_model_receives_the_tasks_own_pixels_as_lossless_png(stub, tmp_path, monkeypatch, capsys, built_demo):
    monkeypatch.setenv("STUB_API_KEY", "k")
    result = invoke(stub.model_args() + ["strategy=few_shot", "shots=2", "limit=3",
                                         f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 0, result.err
    task = built_demo
    records = {r["id"]: r for r in read_jsonl(tmp_path / "run" / "predictions.jsonl")}
    assert len(stub.requests) == 3
    for request in stub.requests:
        images = [part["image_url"]["url"] for message in request["body"]["messages"]
                  if isinstance(message["content"], list)
                  for part in message["content"] if part["type"] == "image_url"]
        assert len(images) == 3 and all(url.startswith("data:image/png;base64,") for url in images)
        sent = [base64.b64decode(url.split(",", 1)[1]) for url in images]
        # which query this was: the item whose examples match the shots shown
        query = next(i for i, r in records.items() if to_png(task.pixels(i)) == sent[-1])
        expected = [to_png(task.pixels(e)) for e in records[query]["example_ids"]] + [to_png(task.pixels(query))]
        assert sent == expected
        decoded = np.asarray(Image.open(io.BytesIO(sent[-1])))
        assert decoded.dtype == np.uint8 and decoded.shape == task.pixels(query).shape


def test_429_retry_after_is_honoured_and_500_retried(stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    monkeypatch.setattr(openai_compat, "backoff_s", lambda attempt: 0.0)
    stub.state.faults, stub.state.retry_after_s = ["429", "500", "ok"], 0.4
    completion = asyncio.run(_complete(OpenAICompatible(stub_card(stub))))
    assert completion.attempts == 3 and json.loads(completion.text)["score"] is not None
    times = [r["time"] for r in stub.requests]
    assert times[1] - times[0] >= 0.35, "waited as Retry-After asked"
    assert times[2] - times[1] < 0.3, "no Retry-After on a 500: backoff only"


def test_retry_after_forms():
    from email.utils import formatdate

    assert openai_compat.retry_after_s({"retry-after": "2"}) == 2.0
    assert openai_compat.retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert 8 <= openai_compat.retry_after_s({"retry-after": formatdate(time.time() + 10, usegmt=True)}) <= 10
    assert openai_compat.retry_after_s({"retry-after": "soon"}) is None
    assert openai_compat.retry_after_s({}) is None


def test_timeouts_dropped_connections_and_malformed_bodies_are_retried(stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    monkeypatch.setattr(openai_compat, "backoff_s", lambda attempt: 0.0)
    stub.state.faults, stub.state.stall_s = ["stall", "drop", "malformed", "ok"], 3.0
    completion = asyncio.run(_complete(OpenAICompatible(stub_card(stub, "model.timeout_s=0.5"))))
    assert completion.attempts == 4
    assert [r["fault"] for r in stub.requests] == ["stall", "drop", "malformed", "ok"]


def test_an_address_nothing_listens_on_stops_the_run_instead_of_failing_every_item(stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    monkeypatch.setattr(openai_compat, "backoff_s", lambda attempt: 0.0)
    closed = free_port()  # nothing listens on it once the probe socket is closed
    card = compose_cfg(*stub.model_args(), f"model.base_url=http://127.0.0.1:{closed}/v1").model
    with pytest.raises(UserError, match=rf"cannot reach http://127.0.0.1:{closed}/v1 .*model.base_url"):
        asyncio.run(_complete(OpenAICompatible(card)))


def test_gives_up_after_max_retries_with_the_reason(stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    monkeypatch.setattr(openai_compat, "backoff_s", lambda attempt: 0.0)
    stub.state.faults = ["500"]
    with pytest.raises(BackendError, match=r"HTTP 500; gave up after 3 attempts"):
        asyncio.run(_complete(OpenAICompatible(stub_card(stub, "model.max_retries=2"))))
    assert len(stub.requests) == 3


def test_rejected_key_stops_the_run_and_the_error_does_not_echo_it(stub, tmp_path, monkeypatch, capsys, built_demo):
    key = "sk-live-" + secrets.token_hex(12)
    monkeypatch.setenv("STUB_API_KEY", key)
    stub.state.faults = ["401"]
    result = invoke(stub.model_args() + ["strategy=zero_shot", "limit=10", "model.concurrency=1",
                                         f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 2
    assert "STUB_API_KEY" in result.err and "HTTP 401" in result.err
    assert key not in result.err + result.out
    assert len(stub.requests) == 1, "a rejected key stops the run instead of failing every item"
    assert files_containing([tmp_path], key.encode()) == []


def test_unparseable_answers_are_reasked_counted_and_kept_raw(stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    stub.state.faults = ["unparseable", "ok"]

    async def ask(reasks: int):
        backend = OpenAICompatible(stub_card(stub))
        await backend.start(None)
        try:
            asker = Asker(backend, None, CacheMode.off, reasks)
            return await asker.ask(Request(ITEM, CHAT)), asker.requests_sent
        finally:
            await backend.close()

    outcome, sent = asyncio.run(ask(1))
    assert outcome.answer is not None and outcome.reasks == 1 and sent == 2
    reask = stub.requests[1]["body"]["messages"]
    assert reask[-2] == {"role": "assistant", "content": "The image shows the abdomen."}
    assert "could not be read" in reask[-1]["content"]

    stub.state.faults = ["refusal"]
    outcome, sent = asyncio.run(ask(1))
    assert outcome.answer is None and sent == 2 and outcome.reasks == 1
    assert outcome.error == "unparseable answer (refusal)"
    assert outcome.raw.startswith("I'm sorry")


def test_cut_off_answer_is_a_failure_that_still_counts_its_tokens(stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    stub.state.faults = ["cutoff"]

    async def ask():
        backend = OpenAICompatible(stub_card(stub))
        await backend.start(None)
        try:
            return await Asker(backend, None, CacheMode.off, 1).ask(Request(ITEM, CHAT))
        finally:
            await backend.close()

    outcome = asyncio.run(ask())
    assert outcome.answer is None and "finish_reason=length" in outcome.error
    assert outcome.usage.completion_tokens == 512
    assert len(stub.requests) == 1, "no re-ask: the budget, not the format, was the problem"


def test_reasoning_card_sends_its_own_arguments(stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    card = compose_cfg("model=o3", f"model.base_url={stub.url}", "model.api_key_env=STUB_API_KEY").model
    asyncio.run(_complete(OpenAICompatible(card)))
    body = stub.requests[0]["body"]
    assert body["model"] == "o3" and "temperature" not in body and "max_tokens" not in body
    assert body["max_completion_tokens"] == 8000 and body["reasoning_effort"] == "medium"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["score", "category", "explanation"]
    assert body["messages"][1]["content"][1]["image_url"]["detail"] == "high"


def test_card_without_system_role_gets_instructions_in_the_first_user_turn(stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    card = compose_cfg("model=gemma-3", f"model.base_url={stub.url}", "model.api_key_env=STUB_API_KEY").model
    asyncio.run(_complete(OpenAICompatible(card)))
    messages = stub.requests[0]["body"]["messages"]
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"][0] == {"type": "text", "text": "Rate it."}


def test_openrouter_is_one_override(monkeypatch):
    card = compose_cfg("model=gpt-4o", "model.via=openrouter").model
    endpoint = resolve_endpoint(card)
    assert (endpoint.base_url, endpoint.model_id, endpoint.key_env) == (OPENROUTER_URL, "openai/gpt-4o",
                                                                       "OPENROUTER_API_KEY")
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(UserError, match="OPENROUTER_API_KEY"):
        OpenAICompatible(card)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    assert OpenAICompatible(card).identity()["endpoint"] == OPENROUTER_URL


def test_generic_card_composes_but_a_run_without_base_url_says_what_to_set(tmp_path, monkeypatch, capsys):
    assert compose_cfg("model=openai-compatible").model.base_url is None
    result = invoke(["model=openai-compatible", "model.model_id=x", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 2 and "model.base_url=URL" in result.err and "Traceback" not in result.err


def test_card_checks_run_on_load_and_never_echo_a_key(tmp_path, monkeypatch, capsys):
    from ldct_bench.cli import main

    key = "sk-proj-" + secrets.token_hex(12)
    cards = tmp_path / "cards" / "models"
    cards.mkdir(parents=True)
    (cards / "mine.yaml").write_text(f"backend: openai_compatible\nmodel_id: m\napi_key_env: {key}\n")
    monkeypatch.setenv("LDCT_BENCH_CARDS", str(tmp_path / "cards"))
    with pytest.raises(SystemExit) as exit_info:
        main(["list", "models"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "mine.yaml: api_key_env holds what looks like a key" in err
    assert key not in err
    (cards / "mine.yaml").write_text("backend: openai_compatible\nmodel_id: m\nimage_token_rule: antropic\n")
    with pytest.raises(SystemExit):
        main(["list", "models"])
    assert "did you mean anthropic?" in capsys.readouterr().err
    (cards / "mine.yaml").write_text("backend: vllm\nmodel_id: m\n")
    with pytest.raises(SystemExit):
        main(["list", "models"])
    assert "serve.hf_id" in capsys.readouterr().err


def test_mask_secrets_masks_keys_but_not_their_variable_names_or_token_counts():
    config = {"model": {"api_key_env": "OPENAI_API_KEY", "max_tokens": 512, "api_key": "abc",
                        "extra_body": {"note": "token sk-abcdefgh12345678", "headers": {"Authorization": "Bearer x"}}},
              "wandb": {"token": "t0k", "password": ""}, "list": [{"secret": 1}]}
    masked = mask_secrets(config)
    assert masked["model"]["api_key_env"] == "OPENAI_API_KEY" and masked["model"]["max_tokens"] == 512
    assert masked["model"]["api_key"] == "***" and masked["wandb"]["token"] == "***"
    assert masked["model"]["extra_body"]["headers"]["Authorization"] == "***"
    assert masked["model"]["extra_body"]["note"] == "token ***"
    assert masked["wandb"]["password"] == "" and masked["list"] == [{"secret": "***"}]
    assert config["model"]["api_key"] == "abc", "the input is left alone"
    assert mask_secrets(compose_cfg("model=o3").model)["api_key_env"] == "OPENAI_API_KEY"
