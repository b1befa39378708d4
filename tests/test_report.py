"""Plots in every run dir (logger or not), and the read-only run-dir reader reports are built from."""

import io
import json
import shutil

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from PIL import Image

from ldct_bench.paths import resource_dir
from ldct_bench.registry import register
from ldct_bench.report import log_run
from ldct_bench.report.plots import distribution_png, scatter_png, score_histogram, scored_pairs
from ldct_bench.report.runs import read_predictions

RESULTS = {"model": "m", "strategy": "few_shot", "shots": 10, "metadata": "none", "n_scored": 3,
           "metrics": {"plcc": 0.9, "srocc": 0.8, "krocc": 0.7, "overall": 2.4}}


def _image(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def test_every_run_dir_of_the_sweep_has_both_pngs(wandb_sweep):
    assert len(wandb_sweep.run_dirs) == 2
    for run_dir in wandb_sweep.run_dirs:
        for name in ("scatter.png", "distribution.png"):
            image = _image((run_dir / name).read_bytes())
            assert image.shape[0] > 300 and image.std() > 5  # a drawn figure, not a blank canvas


def test_plots_follow_the_data_and_skip_failures():
    records = [{"id": "a", "target": 1.0, "score": 1.2}, {"id": "b", "target": 3.0, "score": 2.6},
               {"id": "c", "target": 2.0, "score": None}, {"id": "d", "target": 4.0, "score": 3.9}]
    targets, scores = scored_pairs(records)
    assert targets.tolist() == [1.0, 3.0, 4.0] and scores.tolist() == [1.2, 2.6, 3.9]
    counts, centres = score_histogram(np.array([0.0, 0.1, 3.99, 4.0, 4.5]))
    assert len(counts) == 16 and counts.sum() == 5 and counts[0] == 2 and counts[-1] == 3
    assert centres[0] == pytest.approx(0.125)
    moved = [dict(r, score=None if r["score"] is None else 4.0 - r["score"]) for r in records]
    assert not np.array_equal(_image(scatter_png(records, RESULTS)), _image(scatter_png(moved, RESULTS)))
    assert not np.array_equal(_image(distribution_png(records, RESULTS)), _image(distribution_png(moved, RESULTS)))


def test_logger_none_still_writes_the_pngs_and_no_wandb_run(wandb_sweep, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(wandb_sweep.run_dirs[0], run_dir, ignore=shutil.ignore_patterns("*.png"))
    register()
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["logger=none", "limit=6", "shots=0"])
    log_run(cfg, run_dir, json.loads((run_dir / "results.json").read_text()))
    assert (run_dir / "scatter.png").stat().st_size > 1000 and (run_dir / "distribution.png").stat().st_size > 1000
    assert not list(tmp_path.rglob("offline-run-*"))


def test_reader_skips_an_unfinished_line_without_touching_the_file(tmp_path):
    journal = tmp_path / "predictions.jsonl"
    text = json.dumps({"id": "b", "target": 1, "score": 1}) + "\n" + json.dumps({"id": "a", "target": 2, "score": 2}) \
        + "\n" + '{"id": "c", "tar'
    journal.write_text(text)
    assert [r["id"] for r in read_predictions(tmp_path)] == ["a", "b"]
    assert journal.read_text() == text  # a run may still be appending: never cut its journal
