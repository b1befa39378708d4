"""Prompts that fit: a run whose largest request exceeds the card's limits stops before any request."""

import re

import pytest
from conftest import invoke

from ldct_bench.cards.cost import image_tokens
from ldct_bench.cards.fit import Measured, fit_problem, largest_shots
from ldct_bench.cli import main as cli_main

GROK = ["model.context_window=32768", "strategy=few_shot", "shots=34", "model.image_token_rule=xai"]


def test_grok_sized_window_stops_34_shots_naming_the_window_and_the_largest_shots_that_fits(stub, capsys, monkeypatch,
                                                                                           tmp_path):
    monkeypatch.setenv("STUB_API_KEY", "sk-test-fit")
    monkeypatch.chdir(tmp_path)  # run dirs go under ./outputs
    result = invoke([*stub.model_args(), *GROK, "limit=2"], capsys)
    assert result.code == 2 and stub.requests == []
    line = result.err.strip()
    assert "\n" not in line and "context window of 32,768 tokens" in line and "'xai' image rule" in line
    needed = int(re.search(r"about ([\d,]+) tokens", line).group(1).replace(",", ""))
    assert needed > 35 * image_tokens("xai", 512, 512)  # 35 slices of 1,280 tokens: about 45k
    best = int(re.search(r"largest shots that fits is shots=(\d+)", line).group(1))
    assert 15 <= best < 34
    fits = invoke([*stub.model_args(), *GROK[:-2], f"shots={best}", "model.image_token_rule=xai", "limit=1"], capsys)
    assert fits.code == 0, fits.err[-2000:]
    sent = len(stub.requests)
    assert sent >= 1 and all(sum(part.get("type") == "image_url" for m in r["body"]["messages"]
                                 for part in (m["content"] if isinstance(m["content"], list) else [])) == best + 1
                             for r in stub.requests)
    one_more = invoke([*stub.model_args(), *GROK[:-2], f"shots={best + 1}", "model.image_token_rule=xai"], capsys)
    assert one_more.code == 2 and len(stub.requests) == sent


def test_a_retired_cards_stop_comes_before_the_fit_check(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XAI_API_KEY", "xai-test")
    monkeypatch.chdir(tmp_path)
    result = invoke(["model=grok-2-vision", "strategy=few_shot", "shots=34"], capsys)
    assert result.code == 2 and "retired" in result.err and "context window" not in result.err


def test_too_many_images_names_the_image_limit(stub, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("STUB_API_KEY", "sk-test-fit")
    monkeypatch.chdir(tmp_path)
    result = invoke([*stub.model_args(), "model.max_images_per_request=8", "strategy=few_shot", "shots=10"], capsys)
    assert result.code == 2 and stub.requests == []
    assert "shows 11 images, more than the 8 per request" in result.err and "shots=7" in result.err


def test_estimate_runs_the_same_check(capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "sk-test-fit")
    with pytest.raises(SystemExit) as stopped:
        cli_main(["estimate", "model=openai-compatible", "model.base_url=http://127.0.0.1:9/v1",
                  "model.model_id=x", *GROK])
    assert stopped.value.code == 2 and "context window of 32,768" in capsys.readouterr().err


class Card:
    name, image_token_rule, max_tokens, max_completion_tokens = "c", "xai", 500, None
    context_window, max_images_per_request = 10_000, None


def test_largest_shots_arithmetic():
    m = Measured(prompt=1000 + 10 * 1300, images=11, base_prompt=1000, base_images=1, shots=10)
    assert largest_shots(Card, m) == 6  # (10,000 - 500 - 1,000) // 1,300
    assert "shots=6" in fit_problem(Card, m)
    too_big = Measured(9600, 1, 9600, 1, 0)  # 9,600 + 500 answer > 10,000 even at shots=0
    assert "not even a zero-shot request fits" in fit_problem(Card, too_big) and largest_shots(Card, too_big) is None
    assert fit_problem(Card, Measured(9400, 1, 9400, 1, 0)) is None
