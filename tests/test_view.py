"""`ldct-bench view`: per-run diagnostics, and the offline page of a run's items (and of several runs)."""

import json
import shutil
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, Stub, read_jsonl
from omegaconf import OmegaConf
from PIL import Image
from scipy import stats

from ldct_bench.run.records import Prediction
from ldct_bench.stats.diagnostics import diagnostics
from ldct_bench.stats.metrics import confidence_intervals

FIXED = REPO / "tests" / "data" / "diagnostics_predictions.jsonl"


# ---- diagnostics ----

def _half_up(value, step):
    return Decimal(str(value)).quantize(Decimal(step), ROUND_HALF_UP)


def _close(value, expected):
    return value == pytest.approx(expected, abs=1e-6) if expected is not None else value is None


def test_diagnostics_equal_an_independent_numpy_computation():
    records = [Prediction.from_json(line) for line in read_jsonl(FIXED)]
    got = diagnostics(records)
    scored = [r for r in records if r.score is not None]
    assert len(scored) == len(records) - 2  # the two failed items count nowhere
    true = np.array([r.target for r in scored])
    pred = np.array([r.score for r in scored])
    slope, intercept = np.polyfit(true, pred, 1)
    tenths = Counter(_half_up(p, "0.1") for p in pred.tolist())
    assert _close(got["bias"], np.mean(pred - true)) and _close(got["mae"], np.mean(np.abs(pred - true)))
    assert _close(got["slope"], slope) and _close(got["intercept"], intercept)
    assert _close(got["sd_ratio"], np.std(pred) / np.std(true))
    assert got["distinct"] == len({_half_up(p, "0.01") for p in pred.tolist()}) < len(pred)
    assert _close(got["mode_share"], max(tenths.values()) / len(pred))
    bands = {"0-1": (true >= 0) & (true < 1), "1-2": (true >= 1) & (true < 2), "2-3": (true >= 2) & (true < 3),
             "3-4": (true >= 3) & (true <= 4)}
    assert list(got["by_band"]) == list(bands) and sum(b["n"] for b in got["by_band"].values()) == len(scored)
    for name, mask in bands.items():
        band = got["by_band"][name]
        assert band["n"] == mask.sum() > 0
        assert _close(band["mae"], np.mean(np.abs(pred[mask] - true[mask])))
        assert _close(band["bias"], np.mean(pred[mask] - true[mask]))
    assert 4.0 in true[bands["3-4"]] and 1.0 in true[bands["1-2"]]  # the file has scores on the band edges
    regions = np.array([r.meta.get("region") for r in scored])
    assert list(got["by_region"]) == ["kidney", "liver", "pelvis"]  # items without a region are in no region
    for name, entry in got["by_region"].items():
        mask = regions == name
        t, p = true[mask], pred[mask]
        assert entry["n"] == mask.sum()
        assert _close(entry["mae"], np.mean(np.abs(p - t))) and _close(entry["bias"], np.mean(p - t))
        if mask.sum() < 10:
            assert entry["plcc"] is entry["srocc"] is entry["krocc"] is None
            assert entry["ci"]["plcc"] == [None, None]
            continue
        assert _close(entry["plcc"], stats.pearsonr(t, p)[0])
        assert _close(entry["srocc"], stats.spearmanr(t, p)[0])
        assert _close(entry["krocc"], stats.kendalltau(t, p, variant="b")[0])
        intervals = confidence_intervals(t, p)
        for metric in ("plcc", "srocc", "krocc"):
            low, high = entry["ci"][metric]
            assert low < entry[metric] < high
            assert _close(low, intervals[metric][0]) and _close(high, intervals[metric][1])
    json.dumps(got, allow_nan=False)  # JSON-safe


def test_undefined_diagnostics_are_none_not_nan():
    constant = [Prediction(id=str(i), target=2.0, score=1.0 + i / 10) for i in range(5)] + \
               [Prediction(id="x", target=1.0, error="HTTP 400")]
    got = diagnostics(constant)
    assert got["slope"] is got["intercept"] is got["sd_ratio"] is None and got["by_region"] is None
    assert got["by_band"]["2-3"]["n"] == 5 and got["by_band"]["0-1"] == {"n": 0, "mae": None, "bias": None}
    empty = diagnostics([Prediction(id="x", target=1.0)])
    assert empty["bias"] is empty["mae"] is empty["mode_share"] is None and empty["distinct"] == 0
    json.dumps([got, empty], allow_nan=False)


# ---- the page ----

@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_store):
    """Two 12-item demo runs against the stub, side by side in one sweep folder: A few-shot with permanent
    failures (HTTP 400), B error feedback with repeats=2 and scoring=expected."""
    from ldct_bench.__main__ import main

    root = tmp_path_factory.mktemp("view-runs")
    stub = Stub()
    env = {"STUB_API_KEY": "k", "LDCT_BENCH_DATA": str(data_store), "LDCT_BENCH_CACHE": str(root / "cache"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HYDRA_FULL_ERROR": "0"}
    settings = {"A": ["strategy=few_shot", "shots=2"],
                "B": ["strategy=error_feedback", "shots=2", "strategy.calibration_pool=6", "repeats=2",
                      "model.temperature=0.5", "scoring=expected", "model.logprobs=true"]}
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            for name, extra in settings.items():
                stub.state.faults = ["ok", "ok", "ok", "400"] if name == "A" else []
                patch.setattr(sys, "argv", ["ldct_bench", *stub.model_args(), *extra, "limit=12", "model.concurrency=1",
                                            f"hydra.run.dir={root / 'sweep' / name}"])
                try:
                    main()
                except SystemExit as exc:
                    assert not exc.code, f"run {name} exited with {exc.code}"
    finally:
        stub.close()
    return root / "sweep"


def test_results_json_holds_the_diagnostics_of_its_journal(runs):
    """A run writes the figures the viewer, W&B and the leaderboard show: those of its scored journal lines."""
    from ldct_bench.report.runs import read_predictions
    from ldct_bench.run.results import read_results

    for name in ("A", "B"):  # A has failed items, which count nowhere
        written = read_results(runs / name).diagnostics
        assert list(written) == ["bias", "mae", "slope", "intercept", "sd_ratio", "distinct", "mode_share", "by_band",
                                 "by_region"]
        assert written == json.loads(json.dumps(diagnostics(read_predictions(runs / name))))
        assert written["mae"] > 0 and sum(band["n"] for band in written["by_band"].values()) == sum(
            1 for r in read_jsonl(runs / name / "predictions.jsonl") if r["score"] is not None)


def _view(argv, capsys):
    from ldct_bench.cli import main

    code = 0
    try:
        main(["view", *map(str, argv)])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class _Page(HTMLParser):
    """Items in page order: each with its attributes, its row's text and images, and its detail's images."""

    def __init__(self):
        super().__init__()
        self.items, self.resources, self._item, self._in_row = [], [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.resources += [(tag, key, attrs[key]) for key in ("src", "href", "data-src", "data-full") if key in attrs]
        if tag == "tbody":
            self._item = {"attrs": attrs, "text": "", "row_images": [], "detail_images": [], "detail": ""} \
                if attrs.get("class") == "item" else None
            self.items += [self._item] if self._item else []
        elif tag == "tr" and self._item:
            self._in_row = "main" in attrs.get("class", "")
        elif tag == "img" and self._item:
            self._item["row_images" if self._in_row else "detail_images"].append(attrs)

    def handle_data(self, data):
        if self._item:
            self._item["text" if self._in_row else "detail"] += data


def _parse(page: Path) -> _Page:
    parsed = _Page()
    parsed.feed(page.read_text(encoding="utf-8"))
    return parsed


def _png(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


def test_one_run_page_is_offline_worst_first_with_the_images_the_model_saw(runs, capsys):
    from ldct_bench.data.task import load_task

    run = runs / "A"
    code, out, err = _view([run], capsys)
    page = run / "view" / "index.html"
    assert code == 0 and out.strip() == str(page.resolve()) and err == ""
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "@import" not in text and "url(" not in text
    parsed = _parse(page)
    for _, _, value in parsed.resources:  # only the page's own folder, anchors within it, or data URLs
        assert value.startswith(("#", "data:")) or (page.parent / value).resolve().is_relative_to(page.parent), value
    records = {r["id"]: r for r in read_jsonl(run / "predictions.jsonl")}
    assert [item["attrs"]["data-id"] for item in parsed.items] != sorted(records)  # not merely in id order
    assert sorted(item["attrs"]["data-id"] for item in parsed.items) == sorted(records)  # one row per item
    errors = [abs(r["score"] - r["target"]) if r["score"] is not None else None
              for r in (records[item["attrs"]["data-id"]] for item in parsed.items)]
    scored = [e for e in errors if e is not None]
    assert scored == sorted(scored, reverse=True) and errors[len(scored):] == [None] * (len(errors) - len(scored))
    assert len(scored) < len(errors)  # the stub's 400s left failed items, listed last
    task = load_task(OmegaConf.load(run / ".hydra" / "config.yaml").task)
    for item in parsed.items:
        (image,) = item["row_images"]  # its thumbnail loads when the row comes near the window (data-src)
        thumb, full = page.parent / image["data-src"], page.parent / image["data-full"]
        assert full.read_bytes() == task.png(item["attrs"]["data-id"])  # exactly what the model was sent
        assert max(_png(thumb).size) <= 96


def test_a_failed_item_shows_its_reason_and_the_detail_shows_the_examples(runs, capsys):
    from ldct_bench.data.task import load_task

    run = runs / "A"
    _view([run], capsys)
    parsed = _parse(run / "view" / "index.html")
    records = {r["id"]: r for r in read_jsonl(run / "predictions.jsonl")}
    failed = [item for item in parsed.items if records[item["attrs"]["data-id"]]["score"] is None]
    assert failed
    for item in failed:
        reason = records[item["attrs"]["data-id"]]["error"]
        assert "HTTP 400" in reason and item["attrs"]["data-failed"] == "1"
        assert f"failed: {reason}" in item["text"] and f"failed: {reason}" in item["detail"]
    task = load_task(OmegaConf.load(run / ".hydra" / "config.yaml").task)
    targets = {item.id: item.target for item in task.items("train")}
    scored = next(item for item in parsed.items if records[item["attrs"]["data-id"]]["score"] is not None)
    record = records[scored["attrs"]["data-id"]]
    assert [image["alt"] for image in scored["detail_images"]] == record["example_ids"]
    assert len(record["example_ids"]) == 2
    for example in record["example_ids"]:  # each with the true score the prompt showed
        assert f"{example}true {targets[example]:.2f}" in scored["detail"]
    assert record["explanation"] in scored["detail"]


def test_a_sweep_dir_gives_both_runs_side_by_side_with_samples_levels_and_earlier_scores(runs, capsys):
    code, out, _ = _view([runs], capsys)
    page = runs / "view" / "index.html"
    assert code == 0 and out.strip() == str(page.resolve())
    parsed = _parse(page)
    a = {r["id"]: r for r in read_jsonl(runs / "A" / "predictions.jsonl")}
    b = {r["id"]: r for r in read_jsonl(runs / "B" / "predictions.jsonl")}
    calibration = {r["id"]: r for r in read_jsonl(runs / "B" / "calibration.jsonl")}
    assert len(parsed.items) == len(a) == len(b)
    def error(r):
        return None if r["score"] is None else abs(r["score"] - r["target"])
    worst = []
    for item in parsed.items:
        attrs, ra, rb = item["attrs"], a[item["attrs"]["data-id"]], b[item["attrs"]["data-id"]]
        if error(ra) is not None and error(rb) is not None:
            assert float(attrs["data-diff1"]) == pytest.approx(error(rb) - error(ra), abs=1e-5)
        known = [e for e in (error(ra), error(rb)) if e is not None]
        worst.append(max(known) if known else None)
        assert len(item["row_images"]) == 1
        assert all(f"{s:.2f}" in item["text"] for s in rb["scores"])  # every sample of B
        assert "P(level)" in item["text"]  # B's level probabilities, drawn as bars
        for example in rb["example_ids"]:  # error feedback: the model's earlier score and its error
            said, truth = calibration[example]["score"], calibration[example]["target"]
            assert f"model {said:.2f} · error {abs(said - truth):.2f}" in item["detail"]
    assert worst == sorted(worst, key=lambda e: (e is None, -(e or 0)))


def test_data_that_will_not_open_still_gives_the_page_with_placeholders(runs, tmp_path, capsys):
    run = tmp_path / "moved"
    shutil.copytree(runs / "A", run, ignore=shutil.ignore_patterns("view"))
    config = OmegaConf.load(run / ".hydra" / "config.yaml")
    config.task.source, config.task.path = "local", str(tmp_path / "gone")
    OmegaConf.save(config, run / ".hydra" / "config.yaml")
    code, out, err = _view([run], capsys)
    assert code == 0 and Path(out.strip()).is_file()
    assert len(err.strip().splitlines()) == 1 and "placeholders" in err and "does not exist" in err
    parsed = _parse(run / "view" / "index.html")
    assert len(parsed.items) == len(read_jsonl(run / "predictions.jsonl"))
    for item in parsed.items:
        (image,) = item["row_images"]
        assert (run / "view" / image["src"]).is_file() and "not available" in image["alt"]


def test_a_run_dir_without_its_config_gets_its_images_from_the_task_of_its_name(runs, tmp_path, capsys):
    """`ldct-bench score` writes no .hydra/config.yaml: the task named in results.json (demo) gives the images."""
    run = tmp_path / "scored"
    shutil.copytree(runs / "A", run, ignore=shutil.ignore_patterns("view", ".hydra"))
    code, _, err = _view([run], capsys)
    assert code == 0 and err == ""
    for item in _parse(run / "view" / "index.html").items:
        (image,) = item["row_images"]
        assert (run / "view" / image["data-full"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_folder_without_a_finished_run_is_one_clear_error(runs, tmp_path, capsys):
    code, _, err = _view([tmp_path], capsys)
    assert code == 2 and err.count("ldct-bench: error:") == 1 and "no finished ldct-bench run" in err
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs / "A", unfinished, ignore=shutil.ignore_patterns("view", "results.json"))
    code, _, err = _view([unfinished], capsys)
    assert code == 2 and "resume=" in err and "Traceback" not in err
