"""Loading LDCT-IQA as a task: a prepared folder, its environment variable, a Hub-style parquet copy, the small card."""

from __future__ import annotations

import io
import json

import datasets
import huggingface_hub
import numpy as np
import pytest
import tifffile
from conftest import invoke, read_jsonl
from PIL import Image
from releases import write_small_release

from ldct_bench.cards.registry import card_files, load_card
from ldct_bench.data.release import prepare
from ldct_bench.data.task import load_task
from ldct_bench.errors import UserError

SMALL_TRAIN = [f"{i:04d}.tif" for i in range(0, 1000, 100)]
SMALL_TEST = [f"test{i:03d}.tiff" for i in range(0, 300, 30)]


def task_card(name: str = "ldct_iqa", **fields):
    card = load_card("task", card_files("task")[name])
    for key, value in fields.items():
        card[key] = value
    return card


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The small card's 10 + 10 images among a few others, raw and prepared."""
    root = tmp_path_factory.mktemp("ldct")
    train, test = write_small_release(root / "raw", sorted(SMALL_TRAIN + ["0001.tif", "0999.tif"]),
                                      sorted(SMALL_TEST + ["test001.tiff", "test299.tiff"]))
    return train, test, prepare(train, test, root / "prepared")


def test_loads_from_task_path(release, tmp_path):
    train, test, out = release
    task = load_task(task_card(path=str(out)), store=tmp_path)
    scores = json.loads((test / "test.json").read_text())
    assert [item.id for item in task.items("test")] == sorted(scores)
    assert [item.target for item in task.items("test")] == [scores[name] for name in sorted(scores)]
    assert len(task.items("train")) == 12
    assert np.array_equal(task.pixels("0100.tif"), tifffile.imread(train / "image" / "0100.tif"))


def test_environment_variable_is_used_when_no_path_is_given(release, tmp_path, monkeypatch):
    _, _, out = release
    monkeypatch.setenv("LDCT_IQA_PATH", str(out))
    by_env = load_task(task_card(), store=tmp_path)
    assert by_env.fingerprint == load_task(task_card(path=str(out)), store=tmp_path).fingerprint
    monkeypatch.setenv("LDCT_IQA_PATH", str(tmp_path / "elsewhere"))
    with pytest.raises(UserError, match=r"LDCT_IQA_PATH=.*elsewhere does not exist"):
        load_task(task_card(), store=tmp_path)


def test_raw_release_is_not_mistaken_for_a_dataset(release, tmp_path):
    train, _, _ = release
    with pytest.raises(UserError, match=r"task.path=.* is not a prepared dataset .*ldct-bench prepare --train"):
        load_task(task_card(path=str(train)), store=tmp_path)


@pytest.mark.parametrize("overrides, expected", [
    ([], ["zenodo.org/records/7833096", "Ewha-AI/LDCTIQAC2023", "ldct-bench prepare --train", "LDCT_IQA_PATH=DIR"]),
    (["task.hub_id=nobody/ldct-iqa"], ["cannot load task.hub_id=nobody/ldct-iqa", "hf auth login"]),
])
def test_no_data_fails_in_one_line(tmp_path, capsys, monkeypatch, overrides, expected):
    for module in (huggingface_hub.constants, datasets.config):  # read once at import: set them, not only the env
        monkeypatch.setattr(module, "HF_HUB_OFFLINE", True)
    result = invoke(["task=ldct_iqa", "model=noise-baseline", *overrides, f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and "Traceback" not in result.err
    assert all(needle in lines[0] for needle in expected), lines[0]


def test_a_hub_style_parquet_copy_loads_bit_exact(release, tmp_path):
    train, _, out = release
    copy = tmp_path / "hub-copy"
    for split, table in datasets.load_from_disk(str(out)).items():
        table.to_parquet(str(copy / "data" / f"{split}-00000-of-00001.parquet"))
    task = load_task(task_card(path=str(copy)), store=tmp_path)
    assert len(task.items("train")) == 12 and len(task.items("test")) == 12
    assert np.array_equal(task.pixels("0900.tif"), tifffile.imread(train / "image" / "0900.tif"))


def test_small_card_fixes_ten_train_and_ten_test_images(release, tmp_path):
    _, _, out = release
    task = load_task(task_card("ldct_iqa_small", path=str(out)), store=tmp_path)
    assert [item.id for item in task.items("train")] == SMALL_TRAIN
    assert [item.id for item in task.items("test")] == SMALL_TEST


def test_small_card_runs_end_to_end(release, tmp_path, capsys, stub, monkeypatch):
    _, _, out = release
    run_dir = tmp_path / "run"
    monkeypatch.setenv("STUB_API_KEY", "k")
    result = invoke([*stub.model_args(), "task=ldct_iqa_small", f"task.path={out}", "strategy=few_shot",
                     "strategy.selection=fixed", f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err[-2000:]
    records = read_jsonl(run_dir / "predictions.jsonl")
    assert sorted(r["id"] for r in records) == SMALL_TEST
    assert all(sorted(r["example_ids"]) == SMALL_TRAIN for r in records)  # the 10 fixed examples, every time
    assert json.loads((run_dir / "results.json").read_text())["n_scored"] == 10


def test_columns_are_cached_by_content_not_by_folder(release, tmp_path):
    train, test, out = release
    calls = []

    def brightness(pixels: np.ndarray) -> float:
        calls.append(1)
        return float(pixels.mean())

    first = load_task(task_card(path=str(out)), store=tmp_path)
    values = first.column("brightness", brightness)
    assert len(calls) == 24 and values["0100.tif"] == pytest.approx(float(first.pixels("0100.tif").mean()))
    again = load_task(task_card(path=str(prepare(train, test, tmp_path / "again"))), store=tmp_path)
    assert again.fingerprint == first.fingerprint and again.column("brightness", brightness) == values
    assert len(calls) == 24


def test_extra_columns_given_to_prepare_become_item_metadata(release, tmp_path):
    train, test, _ = release
    regions = {name: "liver" for name in SMALL_TRAIN + SMALL_TEST}
    out = prepare(train, test, tmp_path / "with-regions", extra={"region": regions})
    task = load_task(task_card(path=str(out)), store=tmp_path)
    assert task.items("test")[0].meta["region"] == "liver"
    plain = load_task(task_card(path=str(prepare(train, test, tmp_path / "plain"))), store=tmp_path)
    assert task.fingerprint != plain.fingerprint


def test_png_follows_the_cards_window_and_size(release, tmp_path):
    train, _, out = release
    pixels = tifffile.imread(train / "image" / "0200.tif")
    task = load_task(task_card(path=str(out), window_width=1400.0, window_level=-300.0), store=tmp_path)
    shown = np.asarray(Image.open(io.BytesIO(task.png("0200.tif")))).astype(int)
    expected = np.rint(pixels.astype(np.float64) * 255).astype(int)  # this window spans all of [0, 1]
    assert np.abs(shown - expected).max() <= 1 and np.mean(shown == expected) > 0.999  # float32 ties at .5
    small = load_task(task_card(path=str(out), image_size=128), store=tmp_path)
    assert Image.open(io.BytesIO(small.png("0200.tif"))).size == (128, 128)
