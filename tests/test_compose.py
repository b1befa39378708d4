"""Hydra composition: every card and option composes; mistakes fail in one line with a suggestion."""

import pytest
from conftest import REPO, run_cli
from hydra import compose, initialize_config_dir

from ldct_bench.cards.registry import options, register
from ldct_bench.config.compose import check_command_line
from ldct_bench.errors import UserError
from ldct_bench.paths import resource_dir

PAPER_MODELS = ["o3", "gpt-4o", "gpt-4o-mini", "gemini-2.5-pro", "claude-sonnet-4", "grok-2-vision",
                "qwen-vl-max", "llama-4-maverick", "gemma-3"]


def _compose(overrides):
    register()
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_paper_models_and_baseline_are_registered():
    assert set(PAPER_MODELS) | {"noise-baseline", "openai-compatible"} <= set(options("model"))


@pytest.mark.parametrize("group", ["model", "task", "strategy", "metadata", "logger"])
def test_every_option_composes(group):
    for name in options(group):
        cfg = _compose([f"{group}={name}"])
        assert cfg[group].name == name


def test_default_run_is_offline_demo_baseline():
    cfg = _compose([])
    assert (cfg.model.name, cfg.task.name, cfg.logger.name) == ("noise-baseline", "demo", "none")


def test_card_values_are_typed():
    cfg = _compose(["model=o3", "model.concurrency=3", "shots=34"])
    assert cfg.model.concurrency == 3 and cfg.shots == 34
    assert cfg.model.temperature is None and cfg.model.max_completion_tokens > 0


@pytest.mark.parametrize("argv, expected", [
    (["model=gpt4o"], "did you mean gpt-4o"),
    (["task=ldct-iqa"], "did you mean ldct_iqa"),
    (["strategy=fewshot"], "did you mean few_shot"),
    (["metadata=regoin"], "did you mean region"),
    (["-m", "model=o3,claude"], "unknown model 'claude'"),
    (["shots=abc"], "shots=abc"),
    (["model.concurrency=many"], "model.concurrency=many"),
    (["shot=3"], "did you mean shots"),
])
def test_bad_command_lines_are_one_clear_line(argv, expected):
    with pytest.raises(UserError, match=expected) as info:
        check_command_line(argv)
    assert "\n" not in str(info.value)


def test_cli_unknown_model_exits_nonzero_without_traceback(tmp_path):
    result = run_cli(["model=gpt4o"], cwd=tmp_path)
    assert result.returncode != 0
    assert "gpt-4o" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_bad_type_exits_nonzero(tmp_path):
    result = run_cli(["shots=abc"], cwd=tmp_path)
    assert result.returncode != 0 and "shots" in result.stderr and "Traceback" not in result.stderr


def test_user_card_folder_adds_a_model_without_editing_the_repo(tmp_path, monkeypatch):
    (tmp_path / "cards" / "models").mkdir(parents=True)
    (tmp_path / "cards" / "models" / "my-model.yaml").write_text(
        "backend: openai_compatible\nmodel_id: mine\nbase_url: http://127.0.0.1:1/v1\n")
    result = run_cli(["--cfg", "job", "model=my-model"], cwd=tmp_path,
                     env={"LDCT_BENCH_CARDS": str(tmp_path / "cards")})
    assert result.returncode == 0, result.stderr
    assert "model_id: mine" in result.stdout


def test_bad_card_names_its_file(tmp_path):
    (tmp_path / "cards" / "models").mkdir(parents=True)
    (tmp_path / "cards" / "models" / "broken.yaml").write_text("backend: carrier_pigeon\n")
    result = run_cli(["model=broken"], cwd=tmp_path, env={"LDCT_BENCH_CARDS": str(tmp_path / "cards")})
    assert result.returncode != 0 and "broken.yaml" in result.stderr and "Traceback" not in result.stderr


def test_list_command_shows_registry(tmp_path):
    result = run_cli(["list", "models"], cwd=tmp_path, module="ldct_bench.cli")
    assert result.returncode == 0
    for name in PAPER_MODELS:
        assert name in result.stdout
    assert str(REPO) not in result.stdout
