"""`ldct-bench estimate`: predicts what a run sends, sends nothing, and prices it by the card."""

import json
import re

import pytest
from conftest import invoke

from ldct_bench.cards.cost import image_tokens
from ldct_bench.cli import main


def estimate(argv, capsys, as_json=True):
    main(["estimate", *argv, *(["--json"] if as_json else [])])
    out = capsys.readouterr().out
    return json.loads(out) if as_json else out


def test_estimate_predicts_the_requests_and_images_a_run_then_sends(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    args = [*stub.model_args(), "strategy=few_shot", "shots=3", "limit=4", "model.price_input_per_mtok=2.5",
            "model.price_output_per_mtok=10"]
    [predicted] = estimate(args, capsys)
    assert stub.requests == [], "an estimate sends nothing"
    assert predicted["requests"] == 4 and predicted["calibration_requests"] == 0
    assert predicted["images_per_request"] == 4 and predicted["image_sizes"] == ["512x512"]
    assert predicted["image_tokens_per_request"] == 4 * image_tokens("openai", 512, 512, "high") == 4 * 255
    assert predicted["output_tokens"] == 4 * 120 and predicted["output_tokens_ceiling"] == 4 * 512
    dollars = (predicted["prompt_tokens"] * 2.5 + predicted["output_tokens"] * 10) / 1e6
    assert predicted["cost_usd"] == pytest.approx(dollars, abs=1e-4)

    result = invoke([*args, f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 0, result.err
    assert len(stub.requests) == predicted["requests"]
    for request in stub.requests:
        images = [p for m in request["body"]["messages"] if isinstance(m["content"], list)
                  for p in m["content"] if p["type"] == "image_url"]
        assert len(images) == predicted["images_per_request"]


def test_error_feedback_adds_the_calibration_pool_and_reasoning_output(capsys):
    [predicted] = estimate(["model=o3", "strategy=error_feedback", "limit=5"], capsys)
    assert predicted["scoring_requests"] == 5 and predicted["calibration_requests"] == 40
    assert predicted["requests"] == 45
    assert predicted["images_per_request"] == 6  # 5 calibration examples + the query
    assert predicted["image_rule"] == "openai_o" and predicted["image_tokens_per_request"] == 6 * 225
    assert predicted["output_tokens"] == 45 * 1500 and predicted["output_tokens_ceiling"] == 45 * 8000
    assert predicted["cost_usd"] < predicted["cost_usd_ceiling"]


def test_a_sweep_gets_one_estimate_per_job_and_a_total(capsys):
    jobs = estimate(["model=gpt-4o,claude-sonnet-4", "shots=0,2", "limit=2", "--sample", "1"], capsys)
    assert sorted((j["model"], j["shots"]) for j in jobs) == [("claude-sonnet-4", 0), ("claude-sonnet-4", 2),
                                                              ("gpt-4o", 0), ("gpt-4o", 2)]
    claude = next(j for j in jobs if j["model"] == "claude-sonnet-4" and j["shots"] == 2)
    assert claude["image_tokens_per_request"] == 3 * 350  # 512 * 512 / 750, rounded up
    text = estimate(["model=gpt-4o,claude-sonnet-4", "shots=0", "limit=2", "max_cost=0.0001", "--sample", "1"],
                    capsys, as_json=False)
    assert text.count("requests  2") == 2 and "\ntotal: 4 requests" in text
    assert "max_cost  $0.0001 stops the run after about" in text


def test_offline_baseline_costs_nothing(capsys):
    text = estimate(["model=noise-baseline"], capsys, as_json=False)
    assert "no requests" in text


def test_a_mistyped_override_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["estimate", "model=gpt4o"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "did you mean gpt-4o" in err and "Traceback" not in err


def test_a_paper_table_is_priced_before_any_data_is_downloaded(capsys):
    """No data for ldct_iqa here: the card's split sizes give the counts, the demo's images the prompt sizes."""
    jobs = estimate(["+experiment=paper_table3", "model=o3,gpt-4o", "--sample", "1"], capsys)
    assert [(j["model"], j["scoring_requests"], j["split_sizes_from"]) for j in jobs] == [
        ("o3", 300, "task card"), ("gpt-4o", 300, "task card")]
    assert all(j["images_per_request"] == 11 and j["image_sizes"] == ["512x512"] for j in jobs)  # 10 shots + query
    text = estimate(["task=ldct_iqa_small", "model=o3", "strategy=zero_shot", "--sample", "1"], capsys, as_json=False)
    assert "10 test items counted from the task card's split sizes" in text


def test_a_data_path_that_is_wrong_is_not_replaced_by_the_card(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["estimate", "task=ldct_iqa", f"task.path={tmp_path / 'nowhere'}", "model=o3"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"task.path={tmp_path / 'nowhere'} does not exist" in err


def test_prompt_tokens_per_test_and_per_calibration_request_add_up(capsys):
    [e] = estimate(["model=o3", "strategy=error_feedback", "limit=5"], capsys)
    total = e["prompt_tokens_per_request"] * 5 + e["prompt_tokens_per_calibration"] * 40
    assert abs(e["prompt_tokens"] - total) <= 45  # rounding of the two means
    text = estimate(["model=o3", "strategy=error_feedback", "limit=5"], capsys, as_json=False)
    assert (f"({e['prompt_tokens_per_request']:,} per test request, {e['prompt_tokens_per_calibration']:,} per "
            "calibration request)") in text


CURRENT = ["gpt-6.2-astra", "gpt-6-luna", "claude-sonnet-5-5", "gemini-4-carbon", "gemini-4-hydrogen", "grok-4.7",
           "qwen4-max", "llama-4-maverick", "gemma-3"]


def test_a_preset_sweep_is_priced_point_by_point_with_its_keys_and_a_wall_time(capsys, monkeypatch):
    """No data, no keys: the preset's nine models (its sweeper's list), not the default model."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-0000")
    jobs = estimate(["+experiment=current_models", "--sample", "1"], capsys)
    assert [j["model"] for j in jobs] == CURRENT
    assert all(j["requests"] == 300 and j["cost_usd"] is not None for j in jobs)
    assert {j["key_env"] for j in jobs} >= {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"}
    text = estimate(["-m", "+experiment=current_models", "--sample", "1"], capsys, as_json=False)
    total = text[text.index("total: 2700 requests"):]
    assert "OPENAI_API_KEY (set, 2 points)" in total and "ANTHROPIC_API_KEY (NOT SET, 1 point)" in total
    assert "retired" not in total
    minutes = re.search(r"time +~(\d+) min, an estimate", total)
    assert minutes, total
    # gemma-3 shares Google's endpoint and key with the Gemini cards, but its 14,000 tokens a minute are its own
    gemma = next(j for j in jobs if j["model"] == "gemma-3")
    assert int(minutes.group(1)) == round(gemma["prompt_tokens"] / 14000)
    assert all(len(line) <= 120 for line in total.splitlines())


def test_a_retired_card_in_the_list_is_named_with_its_successor(capsys):
    text = estimate(["model=gpt-6-luna,claude-sonnet-4", "strategy=zero_shot", "limit=2", "--sample", "1"], capsys,
                    as_json=False)
    assert "retired   claude-sonnet-4 (since 2026-06-15): its point would not start; use model=claude-sonnet-5-5" \
        in text
