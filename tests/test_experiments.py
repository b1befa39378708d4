"""The paper presets compose to the paper's settings, and one of them runs as a sweep (against the local stub)."""

import json

import pytest
from conftest import REPO, invoke
from hydra import compose, initialize_config_dir

from ldct_bench.cards.registry import options, register
from ldct_bench.config.compose import check_command_line

PAPER_NINE = {"gpt-4o", "claude-sonnet-4", "gemma-3", "grok-2-vision", "qwen-vl-max", "gemini-2.5-pro",
              "llama-4-maverick", "o3", "gpt-4o-mini"}
TABLE3_SIX = {"gemma-3", "gpt-4o-mini", "llama-4-maverick", "gpt-4o", "gemini-2.5-pro", "o3"}


@pytest.fixture
def hydra_conf():
    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        yield


def sweep_of(experiment: str) -> dict[str, list[str]]:
    cfg = compose("config", overrides=[f"+experiment={experiment}"], return_hydra_config=True)
    return {key: str(values).split(",") for key, values in cfg.hydra.sweeper.params.items()}


def job(experiment: str, *overrides: str):
    return compose("config", overrides=[f"+experiment={experiment}", *overrides])


def settings(cfg) -> tuple:
    return (cfg.task.name, cfg.strategy.name, cfg.shots, cfg.metadata.name, cfg.strategy.selection)


@pytest.mark.parametrize("experiment,models,expected", [
    ("paper_table1", PAPER_NINE, ("ldct_iqa_small", "zero_shot", 0, "none", "random")),
    ("paper_table2", PAPER_NINE, ("ldct_iqa_small", "few_shot", 10, "none", "fixed")),
    ("paper_table3", TABLE3_SIX, ("ldct_iqa", "few_shot", 10, "none", "sliding_window")),
])
def test_model_tables_sweep_the_papers_models_with_one_setting(hydra_conf, experiment, models, expected):
    sweep = sweep_of(experiment)
    assert list(sweep) == ["model"] and set(sweep["model"]) == models and len(sweep["model"]) == len(models)
    assert set(sweep["model"]) <= set(options("model"))
    for model in sweep["model"]:
        cfg = job(experiment, f"model={model}")
        assert cfg.model.name == model and settings(cfg) == expected


def test_small_scale_task_is_ten_fixed_train_and_ten_test_images(hydra_conf):
    cfg = job("paper_table2", "model=o3")
    assert len(cfg.task.train_ids) == 10 and len(cfg.task.test_ids) == 10  # shots=10 shows the whole pool


def test_table4_rows_are_the_papers_four_o3_settings(hydra_conf):
    sweep = sweep_of("paper_table4")
    assert list(sweep) == ["+table4_row"]
    rows = {row: job("paper_table4", f"+table4_row={row}") for row in sweep["+table4_row"]}
    assert {row: (cfg.model.name, *settings(cfg)) for row, cfg in rows.items()} == {
        "o3_k10": ("o3", "ldct_iqa", "few_shot", 10, "none", "sliding_window"),
        "o3_k34": ("o3", "ldct_iqa", "few_shot", 34, "none", "sliding_window"),
        "o3_region_noise_k34": ("o3", "ldct_iqa", "few_shot", 34, "region_noise", "same_region"),
        "o3_error_feedback": ("o3", "ldct_iqa", "error_feedback", 5, "region_noise", "same_region"),
    }


@pytest.mark.parametrize("experiment", ["paper_table1", "paper_table2", "paper_table3", "paper_table4"])
def test_presets_pass_the_command_line_check(experiment):
    check_command_line(["-m", f"+experiment={experiment}"])


def test_table4_sweep_runs_every_row_against_a_local_endpoint(stub, tmp_path, monkeypatch, capsys):
    """The real multirun, with the stub for o3, the demo task for the data, 2 test items a row, small images."""
    monkeypatch.setenv("STUB_API_KEY", "k")
    sweep = tmp_path / "sweep"
    result = invoke(["-m", "+experiment=paper_table4", *stub.model_args(), "model.max_tokens=null", "task=demo",
                     "task.image_size=128", "limit=2", f"hydra.sweep.dir={sweep}"], capsys)
    assert result.code == 0, result.err[-2000:]
    found = {(r["strategy"], r["shots"], r["metadata"]): r
             for r in (json.loads(p.read_text()) for p in sweep.rglob("results.json"))}
    assert set(found) == {("few_shot", 10, "none"), ("few_shot", 34, "none"), ("few_shot", 34, "region_noise"),
                          ("error_feedback", 5, "region_noise")}
    assert all(r["n_scored"] == 2 and r["model"] == "openai-compatible" for r in found.values())
    [calibration] = list(sweep.rglob("calibration.jsonl"))
    drawn = {line for line in calibration.read_text().splitlines() if line.strip()}
    assert 5 <= len(drawn) <= 10  # per_item: 5 drawn for each of the 2 test images, shared where they overlap
    assert len(stub.requests) == 2 * 4 + len(drawn)  # each calibration image asked once


@pytest.mark.parametrize("table", ["paper_table1", "paper_table2", "paper_table3"])
def test_presets_apply_the_papers_sampling_settings_per_model(table):
    """Each model of a preset gets the token limit and temperature the paper's code set for it (in the field its
    card sends); a model the paper did not run keeps its card's values."""
    import yaml
    from hydra import compose, initialize_config_dir

    from ldct_bench.cards.registry import card_values, register
    from ldct_bench.paths import resource_dir

    rows = yaml.safe_load((resource_dir("conf") / "paper_settings.yaml").read_text())[table]
    register()
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        for model in [*rows, "openai-compatible"]:
            node = compose(config_name="config", overrides=[f"+experiment={table}", f"model={model}"]).model
            card = card_values("model", model)
            row = rows.get(model)
            if row is None:
                assert (node.temperature, node.max_tokens) == (card["temperature"], card["max_tokens"])
                continue
            limit = node.max_tokens if card["max_tokens"] is not None else node.max_completion_tokens
            assert limit == row["max_tokens"], model
            assert node.temperature == (None if card["temperature"] is None else row["temperature"]), model
