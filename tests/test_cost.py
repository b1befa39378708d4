"""Tokens and dollars: the providers' image rules, prices, and max_cost stopping a run it can resume."""

import json

import pytest
from conftest import invoke, read_jsonl

from ldct_bench.backends.base import Usage
from ldct_bench.cards.cost import IMAGE_TOKEN_RULES, cost_usd, image_tokens
from ldct_bench.config.schema import ModelCard


@pytest.mark.parametrize("rule, size, detail, tokens", [
    ("openai", (1024, 1024), "high", 765),        # OpenAI's worked example: 4 tiles
    ("openai", (2048, 4096), "high", 1105),       # shrunk to 768x1536: 6 tiles
    ("openai", (4096, 8192), "low", 85),
    ("openai_o", (1024, 1024), "high", 675),      # o1/o3: 75 + 150 per tile
    ("openai_mini", (512, 512), "high", 8500),    # 2833 + 5667 per tile
    ("openai_patch_o4_mini", (1024, 1024), None, 1762),  # 1024 patches x 1.72
    ("anthropic", (1000, 1000), None, 1334),      # w*h/750
    ("anthropic", (512, 512), None, 350),
    ("gemini", (384, 384), None, 258),
    ("gemini", (1536, 768), None, 516),
    ("gemma", (512, 512), None, 256),
    ("qwen", (512, 512), None, 18 * 18 + 2),
    ("xai", (512, 512), None, 256 * 5),
    ("llama4", (336, 336), None, 144),
    ("none", (512, 512), None, 0),
])
def test_image_token_rules_follow_the_published_examples(rule, size, detail, tokens):
    assert image_tokens(rule, *size, detail) == tokens


def test_every_card_names_a_known_image_rule():
    from ldct_bench.cards.registry import card_files, load_card

    for card in card_files("model").values():
        assert load_card("model", card).image_token_rule in IMAGE_TOKEN_RULES, card.name


def test_cost_bills_cached_prompt_tokens_at_the_cached_price():
    card = ModelCard(name="m", backend="openai_compatible", price_input_per_mtok=2.0, price_output_per_mtok=8.0,
                     price_cached_input_per_mtok=0.5)
    assert cost_usd(Usage(1_000_000, 100_000, 400_000), card) == pytest.approx(0.6 * 2 + 0.4 * 0.5 + 0.1 * 8)
    assert cost_usd(Usage(1000, 10, 0), ModelCard(name="m", backend="openai_compatible")) is None


def test_max_cost_stops_the_run_cleanly_and_resume_finishes_it(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    run_dir = tmp_path / "run"
    # the stub bills ~1,100 prompt tokens per one-image request: at $1000 per million that is ~$1.1 per item
    priced = [*stub.model_args(), "strategy=zero_shot", "limit=8", "model.concurrency=1",
              "model.price_input_per_mtok=1000", "model.price_output_per_mtok=1000"]
    result = invoke([*priced, "max_cost=3", f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err
    assert "cost=$" in result.err, "spend so far is on the progress bar"
    results = json.loads((run_dir / "results.json").read_text())
    records = read_jsonl(run_dir / "predictions.jsonl")
    assert results["stopped_by_budget"] and not results["complete"]
    assert len(records) == len(stub.requests) == 3 and results["cost_usd_this_run"] >= 3
    for record in records:
        usage = record["usage"]
        assert record["cost_usd"] == pytest.approx((usage["prompt_tokens"] + usage["completion_tokens"]) * 1e-3)
    assert results["tokens"]["prompt_tokens"] == sum(r["usage"]["prompt_tokens"] for r in records)

    result = invoke([f"resume={run_dir}", "max_cost=null"], capsys)
    assert result.code == 0, result.err
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] and results["n_scored"] == 8 and len(stub.requests) == 8
    assert results["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in read_jsonl(run_dir / "predictions.jsonl")))


def test_max_cost_without_prices_is_refused_before_any_request(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    result = invoke([*stub.model_args(), "limit=2", "max_cost=1", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 2 and "max_cost needs prices" in result.err and stub.requests == []
