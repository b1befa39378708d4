"""Model cards that exist today: every card dated and sourced, retired models stop, "model not found" is explained."""

import asyncio
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import REPO, invoke
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ldct_bench.backends.base import Request
from ldct_bench.backends.openai_compat import OpenAICompatible
from ldct_bench.cards.lifecycle import check_status, effective_status, says_model_not_found
from ldct_bench.cards.registry import card_files, load_card, register
from ldct_bench.cli import main as cli_main
from ldct_bench.data.task import Item
from ldct_bench.errors import UserError

PAPER_NINE = ("o3", "gpt-4o", "gpt-4o-mini", "gemini-2.5-pro", "claude-sonnet-4", "grok-2-vision", "qwen-vl-max",
              "llama-4-maverick", "gemma-3")
CURRENT = ("gpt-6.2-astra", "gpt-6-luna", "claude-sonnet-5-5", "gemini-4-carbon", "gemini-4-hydrogen", "grok-4.7",
           "qwen4-max", "llama-4-maverick", "gemma-3", "qwen3-vl-8b-vllm")
CHAT = [{"role": "user", "content": "Rate it."}]


def cards() -> dict:
    return {name: load_card("model", card) for name, card in card_files("model").items()}


def compose_model(*overrides: str):
    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides)).model


def test_every_card_is_dated_sourced_and_names_an_existing_successor():
    shipped = cards()
    assert set(PAPER_NINE) | set(CURRENT) <= set(shipped)
    for name, card in shipped.items():
        assert card.checked and dt.date.fromisoformat(card.checked) <= dt.date(2026, 11, 30), name
        assert len(card.sources) >= 1 and all(str(s).strip() for s in card.sources), name
        assert card.successor is None or card.successor in shipped, (name, card.successor)
        if card.status != "active":
            assert card.successor, f"{name} is {card.status} and names no successor"
        if card.backend.value == "vllm":
            assert card.logprobs and card.serve.image_px == 512 and card.context_window == card.serve.max_model_len
    today = dt.date(2026, 11, 30)
    retired = {n for n in shipped if effective_status(shipped[n], today) == "retired"}
    assert retired == {"claude-sonnet-4", "grok-2-vision"}
    assert all(effective_status(shipped[n], today) == "active" for n in CURRENT)


def test_a_card_without_checked_or_sources_fails_the_check(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "undated.yaml").write_text("backend: openai_compatible\nmodel_id: x\n")
    monkeypatch.setenv("LDCT_BENCH_CARDS", str(tmp_path))
    undated = cards()["undated"]
    assert not undated.checked and not undated.sources  # what the test above refuses on a shipped card


@pytest.mark.parametrize("field,value,says", [("status", "gone", "status='gone' is not known"),
                                              ("retires", "next week", "not a date"),
                                              ("status", "deprecated", "needs retires"),
                                              ("rate_limit_tpm", "0", "must be positive")])
def test_bad_lifecycle_fields_fail_in_one_line(tmp_path, monkeypatch, field, value, says):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad.yaml").write_text(f"backend: openai_compatible\nmodel_id: x\n{field}: {value}\n")
    monkeypatch.setenv("LDCT_BENCH_CARDS", str(tmp_path))
    with pytest.raises(UserError, match=says):
        load_card("model", card_files("model")["bad"])


def test_list_models_shows_status_checked_date_and_successor(capsys):
    cli_main(["list", "models"])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]
             if not line.startswith("   ")}  # rows, not their wrapped descriptions
    assert "retired 2026-06-15, successor claude-sonnet-5-5, checked 2026-11-30" in lines["claude-sonnet-4"]
    assert "deprecated 2027-01-14, successor gpt-6-luna" in lines["gpt-4o"]
    assert all("checked 2026-11-30" in line for line in lines.values())


def test_a_retired_card_stops_before_any_request_naming_its_successor(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.chdir(tmp_path)
    result = invoke(["model=claude-sonnet-4", "limit=2"], capsys)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "retired" in lines[0] and "model=claude-sonnet-5-5" in lines[0]
    assert "model.via=openrouter" in lines[0]  # Anthropic's partners keep their own schedules
    grok = invoke(["model=grok-2-vision"], capsys)
    assert grok.code == 2 and "model=grok-4.3" in grok.err and "openrouter" not in grok.err


def test_deprecated_warns_with_its_date_and_passes_its_date_into_retirement(capsys):
    card = OmegaConf.create({"name": "o3", "model_id": "o3", "status": "deprecated", "retires": "2026-12-11",
                             "successor": "gpt-6-astra", "openrouter_id": None, "via": "vendor"})
    warning = check_status(card, dt.date(2026, 11, 30))
    assert warning is not None and "\n" not in warning
    assert "2026-12-11" in warning and "model=gpt-6-astra" in warning
    with pytest.raises(UserError, match="retired by its vendor on 2026-12-11; use model=gpt-6-astra"):
        check_status(card, dt.date(2026, 12, 11))


class _Refusing(BaseHTTPRequestHandler):
    status, message = 404, "The model `gone-1` does not exist"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.dumps({"error": {"message": self.message, "type": "invalid_request_error"}}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("status,message", [(404, "The model `gone-1` does not exist"),
                                            (400, "Model not found: gone-1")])
def test_an_endpoint_saying_model_not_found_stops_with_the_successor(monkeypatch, status, message):
    handler = type("Handler", (_Refusing,), {"status": status, "message": message})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("STUB_API_KEY", "sk-test-notfound")
    try:
        card = compose_model("model=openai-compatible", f"model.base_url=http://127.0.0.1:{server.server_address[1]}/v1",
                             "model.model_id=gone-1", "model.api_key_env=STUB_API_KEY", "model.successor=gpt-6-luna")
        backend = OpenAICompatible(card)

        async def ask():
            await backend.start(None)
            try:
                await backend.complete(Request(Item("x", "test", 2.0), CHAT))
            finally:
                await backend.close()

        with pytest.raises(UserError) as raised:
            asyncio.run(ask())
    finally:
        server.shutdown()
        server.server_close()
    text = str(raised.value)
    assert "\n" not in text and "model openai-compatible" in text and "'gone-1'" in text
    assert "may be retired" in text and "model=gpt-6-luna" in text and "sk-test-notfound" not in text


def test_only_not_found_meanings_of_400_count():
    assert says_model_not_found(404, "whatever")
    assert says_model_not_found(400, "The model 'x' has been decommissioned")
    assert not says_model_not_found(400, "maximum context length exceeded")
    assert not says_model_not_found(400, "model o3 does not support temperature: unknown parameter")


def test_current_models_preset_runs_the_papers_protocol_on_todays_cards():
    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=current_models"], return_hydra_config=True)
        models = str(cfg.hydra.sweeper.params.model).split(",")
        job = compose("config", overrides=["+experiment=current_models", f"model={models[0]}"])
    shipped = cards()
    assert set(models) <= set(shipped) and not set(models) & {"o3", "gpt-4o", "gpt-4o-mini", "claude-sonnet-4",
                                                                "grok-2-vision", "gemini-2.5-pro"}
    assert all(shipped[m].status == "active" for m in models)
    assert (job.task.name, job.strategy.name, job.shots, job.strategy.selection) == \
        ("ldct_iqa", "few_shot", 10, "sliding_window")
