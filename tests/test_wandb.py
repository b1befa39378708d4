"""logger=wandb: offline runs read back from W&B's own files; mode auto never goes online without a key."""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke
from PIL import Image
from wandb_offline import offline_runs, read_run

from ldct_bench.errors import UserError
from ldct_bench.report.wandb_env import has_wandb_key, resolve_mode
from ldct_bench.report.wandb_logger import masked_argv
from ldct_bench.run.records import Prediction


@pytest.fixture(scope="module")
def runs(wandb_sweep):
    found = offline_runs(wandb_sweep.wandb_dir)
    return {run.config["model"]["name"]: run for run in found}  # the sweep's two models


def _run_dir(wandb_sweep, run):
    """The sweep's run dir that this W&B run reports (its config names it)."""
    (run_dir,) = [d for d in wandb_sweep.run_dirs if str(d) == run.config["benchmark"]["run_dir"]]
    return run_dir


def test_two_demo_runs_leave_two_offline_runs_with_a_per_item_table(wandb_sweep, runs):
    assert sorted(runs) == ["noise-baseline", "stub"]
    for run in runs.values():
        table = run.table("items")
        assert table["columns"][:5] == ["id", "image", "target", "prediction", "abs_error"]
        assert {"category", "explanation", "example_ids", "prompt_tokens"} <= set(table["columns"])
        records = {json.loads(line)["id"]: json.loads(line)
                   for line in (_run_dir(wandb_sweep, run) / "predictions.jsonl").read_text().splitlines()}
        assert len(table["data"]) == len(records) == 6
        column = table["columns"].index
        for row in table["data"]:
            record = records[row[column("id")]]
            assert row[column("target")] == record["target"] and row[column("prediction")] == record["score"]
            assert row[column("abs_error")] == pytest.approx(abs(record["score"] - record["target"]), abs=1e-4)
            assert row[column("example_ids")].split(", ") == (record["example_ids"] or [""])


def test_item_thumbnails_are_windowed_8bit_not_black(runs):
    run = runs["stub"]
    table, files = run.table("items"), run.table_files("items")
    image_cell = table["data"][0][table["columns"].index("image")]
    pixels = np.asarray(Image.open(io.BytesIO(open(files[image_cell["path"]], "rb").read())))
    assert pixels.dtype == np.uint8 and pixels.shape == (128, 128)
    assert pixels.mean() > 20 and pixels.std() > 10  # a float array cast unscaled would be all zeros


def test_summary_holds_metrics_cis_coverage_and_cost(wandb_sweep, runs):
    for run in runs.values():
        results = json.loads((_run_dir(wandb_sweep, run) / "results.json").read_text())
        for name in ("plcc", "srocc", "krocc", "overall"):
            assert run.summary[name] == pytest.approx(results["metrics"][name])
            assert [run.summary[f"{name}_ci_low"], run.summary[f"{name}_ci_high"]] == results["ci"][name]
        assert run.summary["coverage"] == 1.0 and run.summary["n_failed"] == 0
        assert run.summary["tokens/prompt_tokens"] == results["tokens"]["prompt_tokens"]
        assert run.summary.get("cost_usd") == results["cost_usd"]


def test_summary_holds_the_diagnostics_and_a_chart_of_errors_by_band(wandb_sweep, runs):
    for run in runs.values():
        figures = json.loads((_run_dir(wandb_sweep, run) / "results.json").read_text())["diagnostics"]
        for name in ("bias", "mae", "slope", "intercept", "sd_ratio", "distinct", "mode_share"):
            assert run.summary[f"diagnostics/{name}"] == figures[name]
        centres = {"0-1": 0.5, "1-2": 1.5, "2-3": 2.5, "3-4": 3.5}
        chart = run.table("charts/by_band_table")
        assert chart["columns"] == ["step", "lineKey", "lineVal"]
        plotted = {(step, key): value for step, key, value in chart["data"]}
        expected = {}
        for band, entry in figures["by_band"].items():
            assert run.summary[f"diagnostics/by_band/{band}/n"] == entry["n"]
            assert run.summary[f"diagnostics/by_band/{band}/mae"] == entry["mae"]
            if entry["n"]:  # a band without items has no point
                expected.update({(centres[band], "mae"): entry["mae"], (centres[band], "bias"): entry["bias"]})
        assert plotted == expected and len(expected) >= 4  # the 6 items fall in two bands or more


def test_figures_as_images_and_charts_and_results_artifact(runs):
    run = runs["noise-baseline"]
    assert run.summary["figures/scatter/_type"] == "image-file"
    assert run.summary["figures/distribution/_type"] == "image-file"
    assert run.table("charts/scatter_table")["columns"] == ["radiologist", "model"]
    assert len(run.table("charts/scatter_table")["data"]) == 6
    artifact = [name for name, kind in run.artifact_types.items() if kind == "ldct-bench-run"]
    assert artifact == ["demo-noise-baseline-baseline"]
    assert set(run.artifacts[artifact[0]]) == {"results.json", "predictions.jsonl"}


def test_name_group_tags_and_masked_config(wandb_sweep, runs):
    assert runs["noise-baseline"].name == "noise-baseline-baseline"
    baseline = runs["noise-baseline"].config["benchmark"]  # a baseline shows no prompt: no strategy, no shots
    assert baseline["strategy"] == "baseline" and baseline["shots"] is None
    stub = runs["stub"].config["benchmark"]["identity"]  # the extra_body field set on the command line is named
    assert runs["stub"].name == stub["name"] and stub["name"].startswith("stub-few_shot-random-k2-none-s0-")
    assert stub["changed"] == {"model.extra_body": {"api_key": "***"}}
    groups = {run.group for run in runs.values()}
    assert len(groups) == 1 and groups.pop().startswith("sweep-")  # one sweep, one group
    assert all(run.tags == ["paper", "demo"] and run.job_type == "eval" for run in runs.values())
    assert all(run.config["model"]["extra_body"]["api_key"] == "***" for run in runs.values())
    for run in runs.values():
        for path in run.folder.rglob("*"):
            if path.is_file():
                assert wandb_sweep.secret.encode() not in path.read_bytes(), path


def test_each_run_prints_one_wandb_line(wandb_sweep):
    lines = [line for line in wandb_sweep.result.stdout.splitlines() if "W&B" in line or "wandb sync" in line]
    assert len(lines) == 2 and all("wandb sync" in line for line in lines)


@pytest.mark.timeout(150)  # W&B online without network would hang ~100 s on top of the run
def test_no_key_and_no_wandb_folders_give_a_self_contained_offline_run(tmp_path, monkeypatch, capsys):
    """No WANDB_MODE, no W&B folders, no key, no netrc: a quick offline run whose every file sits in the run dir."""
    import openai  # noqa: F401 - as in a run of an API model: W&B must not advertise its LLM tracing then
    for name in ("WANDB_MODE", "WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_SILENT"):
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    run_dir = tmp_path / "run"
    result = invoke(["logger=wandb", "limit=4", f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err[-2000:]
    (offline,) = run_dir.glob("wandb/offline-run-*")  # no WANDB_DIR: the W&B run sits in the run dir
    wandb_lines = [line for line in result.out.splitlines() if "W&B" in line or "wandb sync" in line]
    assert wandb_lines == [f"W&B offline run written to {offline}; upload it with: wandb sync {offline}"]
    assert not [line for line in result.err.splitlines() if line.startswith("wandb:")]  # W&B's own chatter

    run = read_run(offline)
    table, files = run.table("items"), run.table_files("items")
    ids = [json.loads(line)["id"] for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert sorted(row[0] for row in table["data"]) == sorted(ids) and len(ids) == 4
    thumbnails = set()
    for row in table["data"]:
        cell = row[table["columns"].index("image")]
        assert isinstance(cell, dict), cell  # offline W&B writes the bare string "Image" in the run's own copy
        png = Path(files[cell["path"]]).resolve()
        assert png.is_relative_to(run_dir.resolve()) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        thumbnails.add(png.read_bytes())
    assert len(thumbnails) == 4  # each item its own picture
    for artifact in run.artifacts.values():  # the results artifact and the charts too
        assert all(Path(local).resolve().is_relative_to(run_dir.resolve()) for local in artifact.values())
    assert not list(home.rglob("staging"))  # nothing left in the user's W&B data dir


def test_a_user_chosen_data_dir_is_honoured(monkeypatch, tmp_path):
    from ldct_bench.report.wandb_logger import DATA_DIR_ENV, staging_inside

    class Run:
        dir = str(tmp_path / "offline-run-x" / "files")

    chosen = str(tmp_path / "wandb-data")  # conftest sets it, as a user would
    with staging_inside(Run()):
        assert os.environ[DATA_DIR_ENV] == chosen
    assert os.environ[DATA_DIR_ENV] == chosen
    monkeypatch.delenv(DATA_DIR_ENV)
    with staging_inside(Run()):
        assert os.environ[DATA_DIR_ENV] == str(tmp_path / "offline-run-x" / "staging")
    assert DATA_DIR_ENV not in os.environ


def test_mode_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert not has_wandb_key() and resolve_mode("auto") == "offline"
    with pytest.raises(UserError, match="wandb login"):
        resolve_mode("online")
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "0" * 40 + "\n")
    assert has_wandb_key() and resolve_mode("auto") == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode("auto") == "offline" and resolve_mode("disabled") == "disabled"


def test_command_line_secrets_are_masked_before_wandb_records_argv():
    argv = ["model=o3", "+model.extra_body.api_key=plainvalue", "model.base_url=http://h/v1?k=sk-abcdefgh12345678",
            "model.api_key_env=MY_KEY"]
    assert masked_argv(argv) == ["model=o3", "+model.extra_body.api_key=***", "model.base_url=http://h/v1?k=***",
                                 "model.api_key_env=MY_KEY"]


def test_a_failed_item_keeps_its_row_with_no_prediction():
    from ldct_bench.report.wandb_logger import ITEM_COLUMNS, items_table

    records = [Prediction(id="a", target=2.0, error="parse: no score in reply"),
               Prediction(id="b", target=3.0, score=2.5, category="Fair", explanation="noisy",
                          example_ids=["0001.tif"], usage={"prompt_tokens": 5, "completion_tokens": 2})]
    rows = [dict(zip(ITEM_COLUMNS, row)) for row in items_table(records, {}).data]
    assert rows[0]["prediction"] is None and rows[0]["abs_error"] is None and rows[0]["error"].startswith("parse")
    assert rows[0]["target_category"] == "Fair" and rows[1]["abs_error"] == 0.5 and rows[1]["prompt_tokens"] == 5
