"""`ldct-bench prepare`: the challenge layout in, a lossless `datasets` dataset out, or one clear error."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import datasets
import huggingface_hub
import numpy as np
import pytest
import tifffile
from conftest import invoke, read_jsonl, run_cli
from PIL import Image
from releases import noisy_slice, write_small_release
from scipy import stats

from ldct_bench import cli
from ldct_bench.data.demo import write_release
from ldct_bench.data.release import prepare
from ldct_bench.data.scale import CATEGORIES
from ldct_bench.errors import UserError

TRAIN_NAMES = [f"{i:04d}.tif" for i in range(4)]
TEST_NAMES = [f"test{i:03d}.tiff" for i in range(2)]


def prepare_cli(*args: str, cwd: Path) -> object:
    return run_cli(["prepare", *args], cwd=cwd, module="ldct_bench.cli")


@pytest.fixture(scope="module")
def challenge(tmp_path_factory):
    """The demo generator's release in the challenge's own layout (40 + 20), prepared by the CLI's code."""
    root = tmp_path_factory.mktemp("challenge")
    train, test = write_release(root / "raw", n_train=40, n_test=20)
    with pytest.MonkeyPatch.context() as patch:
        output = io.StringIO()
        patch.setattr(sys, "stdout", output)
        cli.main(["prepare", "--train", str(train), "--test", str(test), "--out", str(root / "prepared")])
    return root, train, test, root / "prepared", output.getvalue()


@pytest.fixture
def small(tmp_path):
    train, test = write_small_release(tmp_path / "raw", TRAIN_NAMES, TEST_NAMES)
    return tmp_path, train, test


def test_challenge_layout_prepares_with_card(challenge):
    root, train, test, out, printed = challenge
    assert "(train 40, test 20 images)" in printed
    data = datasets.load_from_disk(str(out))
    assert {split: table.num_rows for split, table in data.items()} == {"train": 40, "test": 20}
    features = data["train"].features
    assert isinstance(features["image"], datasets.Image) and features["score"].dtype == "float32"
    assert features["category"].names == CATEGORIES
    scores = json.loads((test / "test.json").read_text())
    assert data["test"]["id"] == sorted(scores)
    for row in data["test"].select_columns(["id", "score", "category"]):
        assert row["score"] == pytest.approx(scores[row["id"]], abs=1e-6)
        assert row["category"] == min(int(scores[row["id"]] + 1e-9), 4)
    card = (out / "README.md").read_text()
    for needle in ("7833096", "Ewha-AI/LDCTIQAC2023", "do not redistribute", "Medical Image Analysis",
                   "| train | 40 |", "| test | 20 |", "category"):
        assert needle in card
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def test_images_read_back_bit_identical(challenge):
    _, train, test, out, _ = challenge
    data = datasets.load_from_disk(str(out))
    for split, folder, name in (("train", train / "image", "0007.tif"), ("test", test / "images", "test013.tiff")):
        table = data[split]
        row = table["id"].index(name)
        source = folder / name
        raw = table.cast_column("image", datasets.Image(decode=False))[row]["image"]["bytes"]
        assert raw == source.read_bytes()
        decoded = np.asarray(table[row]["image"], dtype=np.float32)
        assert decoded.dtype == np.float32 and np.array_equal(decoded, tifffile.imread(source))


def test_noise_baseline_scores_every_test_item(challenge, capsys):
    root, _, test, out, _ = challenge
    run_dir = root / "run"
    result = invoke(["task=ldct_iqa", f"task.path={out}", "model=noise-baseline", f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err[-2000:]
    records = read_jsonl(run_dir / "predictions.jsonl")
    truth = json.loads((test / "test.json").read_text())
    assert sorted(r["id"] for r in records) == sorted(truth)
    assert all(r["target"] == pytest.approx(truth[r["id"]], abs=1e-6) and r["score"] is not None for r in records)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["n"] == results["n_scored"] == 20
    y, p = [r["target"] for r in records], [r["score"] for r in records]
    metrics = results["metrics"]
    assert metrics["plcc"] == pytest.approx(stats.pearsonr(y, p)[0], abs=1e-4)
    assert metrics["srocc"] == pytest.approx(stats.spearmanr(y, p)[0], abs=1e-4)
    assert metrics["krocc"] == pytest.approx(stats.kendalltau(y, p)[0], abs=1e-4)


def test_zip_input_gives_the_same_dataset(challenge, tmp_path):
    _, train, test, out, _ = challenge
    zips = []
    for folder in (train, test):
        archive = tmp_path / f"{folder.name}.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            for path in sorted(folder.rglob("*")):
                bundle.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
            bundle.writestr(f"__MACOSX/{folder.name}/._junk.tif", b"resource fork")  # added by macOS zips
        zips.append(archive)
    prepare(zips[0], zips[1], tmp_path / "from-zip")
    for split in ("train", "test"):
        state = [json.loads((d / split / "state.json").read_text()) for d in (out, tmp_path / "from-zip")]
        assert state[0]["_fingerprint"] == state[1]["_fingerprint"]


def test_one_unlabelled_image_fails_in_one_line(small):
    root, train, test = small
    tifffile.imwrite(train / "image" / "0099.tif", noisy_slice(99))
    result = prepare_cli("--train", str(train), "--test", str(test), "--out", str(root / "out"), cwd=root)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("ldct-bench: error:")
    assert "1 image without a score in train.json: image/0099.tif" in lines[0]
    assert sorted(p.name for p in root.iterdir()) == ["raw"]


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _set_score(folder: Path, name: str, value: object) -> None:
    labels = json.loads((folder / "train.json").read_text())
    labels[name] = value
    (folder / "train.json").write_text(json.dumps(labels))


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def _pixels(folder: Path, name: str, pixels: np.ndarray) -> None:
    tifffile.imwrite(folder / "image" / name, pixels)


BROKEN = {
    "label without image": (lambda t: _set_score(t, "0042.tif", 2.0),
                            "1 score in train.json without an image: 0042.tif"),
    "duplicate names": (lambda t: shutil.copytree(t / "image", t / "copy"),
                        "4 file names found in several subfolders: copy/0000.tif and image/0000.tif"),
    "unreadable": (lambda t: (t / "image" / "0001.tif").write_bytes(b"II*\x00garbage"),
                   "1 file that cannot be read as a TIFF image: image/0001.tif"),
    "png named tif": (lambda t: (t / "image" / "0001.tif").write_bytes(_png_bytes()),
                      "cannot be read as a TIFF image: image/0001.tif (a PNG file)"),
    "stray png": (lambda t: (t / "image" / "extra.png").write_bytes(_png_bytes()),
                  "1 file neither a TIFF image (.tif/.tiff) nor the JSON of scores: image/extra.png"),
    "uint16": (lambda t: _pixels(t, "0002.tif", np.zeros((512, 512), np.uint16)),
               "1 image not float32 512x512: image/0002.tif (uint16 512x512)"),
    "wrong shape": (lambda t: _pixels(t, "0002.tif", np.zeros((256, 512), np.float32)),
                    "1 image not float32 512x512: image/0002.tif (float32 256x512)"),
    "out of range": (lambda t: _pixels(t, "0003.tif", noisy_slice(3) + 0.5),
                     "1 image with values outside [0, 1] or NaN: image/0003.tif (min"),
    "nan": (lambda t: _pixels(t, "0000.tif", np.full((512, 512), np.nan, np.float32)),
            "1 image with values outside [0, 1] or NaN: image/0000.tif (min nan, max nan)"),
    "score above 4": (lambda t: _set_score(t, "0001.tif", 4.5),
                      "1 score in train.json outside [0, 4] or not a number: 0001.tif=4.5"),
    "score not a number": (lambda t: _set_score(t, "0001.tif", "good"),
                           "outside [0, 4] or not a number: 0001.tif=\"good\""),
    "no json": (lambda t: (t / "train.json").unlink(),
                "expected exactly one JSON file of scores (such as train.json), found 0"),
    "two json": (lambda t: (t / "image" / "old.json").write_text("{}"), "found 2 (image/old.json, train.json)"),
    "bad json": (lambda t: (t / "train.json").write_text("{\"0000.tif\": 2.0,"), "train.json is not valid JSON"),
    "name twice in json": (lambda t: (t / "train.json").write_text(
        '{"0000.tif": 1, "0001.tif": 1, "0002.tif": 1, "0003.tif": 1, "0000.tif": 2}'),
        "1 name listed twice in train.json: 0000.tif"),
    "junk after the image": (lambda t: _append(t / "image" / "0001.tif", b"\0" * 5000),
                             "1 file with data after the end of its TIFF image (a damaged or joined file): "
                             "image/0001.tif (5000 bytes after the image)"),
    "float64": (lambda t: _pixels(t, "0002.tif", noisy_slice(2).astype(np.float64)),
                "1 image not float32 512x512: image/0002.tif (float64 512x512)"),
    "planar channels": (lambda t: tifffile.imwrite(t / "image" / "0002.tif", np.stack([noisy_slice(2)] * 3),
                                                   planarconfig="separate", photometric="rgb"),
                        "1 image not float32 512x512: image/0002.tif (float32 3x512x512)"),
    "empty json": (lambda t: (t / "train.json").write_text("{}"), "train.json holds no scores (4 TIFF images found)"),
    "many unlabelled": (lambda t: [_pixels(t, f"9{i:03d}.tif", noisy_slice(i)) for i in range(5)],
                        "5 images without a score in train.json: image/9000.tif, image/9001.tif, image/9002.tif "
                        "and 2 more"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_every_broken_release_fails_in_one_line_and_writes_nothing(small, case):
    root, train, test = small
    breaks, expected = BROKEN[case]
    breaks(train)
    with pytest.raises(UserError) as caught:
        prepare(train, test, root / "out")
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert message.startswith(f"train release {train}")
    assert sorted(p.name for p in root.iterdir()) == ["raw"]  # no output, no hidden partial folder


def test_problems_in_both_splits_are_reported_together(small):
    root, train, test = small
    _pixels(train, "0001.tif", np.zeros((512, 512), np.uint16))
    tifffile.imwrite(test / "images" / "test001.tiff", np.full((512, 512), 2.0, np.float32))
    with pytest.raises(UserError, match=r"train release .*0001.tif.*; test release .*test001.tiff \(min 2"):
        prepare(train, test, root / "out")


def test_ids_in_both_splits_are_refused(small):
    root, train, test = small
    shutil.copy(train / "image" / "0000.tif", test / "images" / "0000.tif")
    labels = json.loads((test / "test.json").read_text()) | {"0000.tif": 1.0}
    (test / "test.json").write_text(json.dumps(labels))
    with pytest.raises(UserError, match=r"1 image in both train and test: 0000.tif\. Fix"):
        prepare(train, test, root / "out")


def test_an_earlier_dataset_is_replaced_but_other_folders_are_kept(small):
    root, train, test = small
    out = prepare(train, test, root / "out")
    (train / "train.json").write_text(json.dumps({name: 1.0 for name in TRAIN_NAMES}))
    prepare(train, test, out)
    assert datasets.load_from_disk(str(out))["train"]["score"] == [1.0] * 4
    keep = root / "mine"
    (keep / "notes.txt").parent.mkdir()
    (keep / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="exists and is not a prepared dataset"):
        prepare(train, test, keep)
    assert (keep / "notes.txt").read_text() == "mine"


def test_missing_release_path_is_one_line(tmp_path):
    with pytest.raises(UserError, match="does not exist; pass the downloaded release"):
        prepare(tmp_path / "nowhere", tmp_path / "nowhere", tmp_path / "out")


def test_image_stacks_with_score_lists(small):
    root, train, _ = small
    test = root / "stacks"
    test.mkdir()
    stack = np.stack([noisy_slice(i) for i in range(3)])
    tifffile.imwrite(test / "test_set_1.tif", stack, photometric="minisblack")
    (test / "scores.json").write_text(json.dumps([0.5, 2.0, 3.5]))
    data = datasets.load_from_disk(str(prepare(train, test, root / "out")))["test"]
    assert data["id"] == ["test_set_1_000.tiff", "test_set_1_001.tiff", "test_set_1_002.tiff"]
    assert data["score"] == [0.5, 2.0, 3.5]
    for index in range(3):
        assert np.array_equal(np.asarray(data[index]["image"], dtype=np.float32), stack[index])
    (test / "scores.json").write_text(json.dumps({"test_set_1.tif": [0.5, 2.0]}))
    with pytest.raises(UserError, match=r"not float32 2x512x512: test_set_1.tif \(float32 3x512x512\)"):
        prepare(train, test, root / "out2")


@pytest.mark.parametrize("offline, expected", [(True, "HF_HUB_OFFLINE is set"), (False, "needs a Hugging Face token")])
def test_push_to_hub_fails_clearly_offline_or_without_token(small, monkeypatch, capsys, offline, expected):
    root, train, test = small
    monkeypatch.delenv("HF_TOKEN", raising=False)  # HF_HOME is a fresh folder: no stored token either
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["prepare", "--train", str(train), "--test", str(test), "--out", str(root / "out"),
                  "--push-to-hub", "me/ldct"])
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and expected in error and len(error.strip().splitlines()) == 1
    assert not (root / "out").exists()  # checked before any work


@pytest.mark.parametrize("size", [300 * 2**20, 3 * 2**30])
def test_a_huge_file_is_refused_from_its_size_without_reading_it(small, size):
    """300 MB or 3 GB after a valid image (sparse files: nothing is really written); the check must not read them."""
    root, train, test = small
    with open(train / "image" / "0001.tif", "r+b") as handle:
        handle.truncate(size)
    tracemalloc.start()
    try:
        with pytest.raises(UserError) as caught:
            prepare(train, test, root / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"1 file far larger than a 512x512 TIFF slice can be (data after the image?): image/0001.tif " \
           f"({size / 2**20:.1f} MiB" in str(caught.value)
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated: the file was read"
    assert sorted(p.name for p in root.iterdir()) == ["raw"]


def test_a_symlink_out_of_the_release_is_refused(small, tmp_path_factory):
    root, train, test = small
    outside = tmp_path_factory.mktemp("elsewhere") / "0009.tif"
    tifffile.imwrite(outside, noisy_slice(9))
    (train / "image" / "0009.tif").symlink_to(outside)
    _set_score(train, "0009.tif", 2.0)
    with pytest.raises(UserError, match=r"1 file\(s\) link outside the release folder: image/0009.tif; copy"):
        prepare(train, test, root / "out")
    assert sorted(p.name for p in root.iterdir()) == ["raw"]
    (train / "image" / "0009.tif").unlink()
    (train / "image" / "0009.tif").symlink_to(train / "image" / "0000.tif")  # a link inside the release is fine
    assert datasets.load_from_disk(str(prepare(train, test, root / "out")))["train"].num_rows == 5


def _cli_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["prepare", *argv])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ldct-bench: error:"), err
    return lines[0]


def test_out_below_a_regular_file_is_one_line(small, capsys):
    root, train, test = small
    (root / "a-file").write_text("")
    line = _cli_error(capsys, "--train", str(train), "--test", str(test), "--out", str(root / "a-file" / "data"))
    assert f"{root / 'a-file'} is a file, not a folder" in line
    assert sorted(p.name for p in root.iterdir()) == ["a-file", "raw"]


def test_out_on_a_read_only_filesystem_is_one_line(small, capsys, monkeypatch):
    """Tests run as root, whom chmod does not stop: the read-only disk is simulated by making mkdir fail with
    EROFS, as the kernel does; a real path where mkdir is refused (/proc) must give one line too."""
    root, train, test = small
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if self.is_relative_to(root / "ro"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    line = _cli_error(capsys, "--train", str(train), "--test", str(test), "--out", str(root / "ro" / "data"))
    assert "cannot be written (Read-only file system); choose a writable folder" in line
    monkeypatch.setattr(Path, "mkdir", real_mkdir)
    line = _cli_error(capsys, "--train", str(train), "--test", str(test), "--out", "/proc/ldct-bench-data")
    assert "--out /proc/ldct-bench-data cannot be written" in line


def test_a_full_disk_midway_leaves_nothing(small, monkeypatch):
    root, train, test = small

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(root / "out"))

    monkeypatch.setattr("ldct_bench.data.release._write_metadata", full)
    with pytest.raises(UserError, match=r"prepare stopped: No space left on device .*free some space"):
        prepare(train, test, root / "out")
    assert sorted(p.name for p in root.iterdir()) == ["raw"]


def test_ctrl_c_during_prepare_exits_130_and_leaves_nothing(tmp_path):
    """SIGINT once the split's Arrow file is being written: exit 130, one line, no output, no hidden folder."""
    train, test = write_small_release(tmp_path / "raw", TRAIN_NAMES[:1], TEST_NAMES)
    first = train / "image" / TRAIN_NAMES[0]
    names = [f"{i:04d}.tif" for i in range(600)]
    for name in names[1:]:
        os.link(first, train / "image" / name)  # 600 images for the cost of one
    (train / "train.json").write_text(json.dumps({name: 2.0 for name in names}))
    proc = subprocess.Popen([sys.executable, "-m", "ldct_bench.cli", "prepare", "--train", str(train), "--test",
                             str(test), "--out", str(tmp_path / "out")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.partial-*/train/*.arrow")) and proc.poll() is None:
        assert time.monotonic() < deadline, "prepare never started writing"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.strip().splitlines() == [
        f"ldct-bench: error: interrupted; {tmp_path / 'out'} is as it was before (the partial copy is removed)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
