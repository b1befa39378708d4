"""`ldct-bench compare A B`: paired B - A per metric, checked against a paired resampling done here by hand."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from ldct_bench.cli import main
from ldct_bench.run.records import Prediction
from ldct_bench.stats.metrics import ALL, correlations
from ldct_bench.stats.paired import paired_deltas

RESAMPLES, SEED = 200, 5


def records(targets: np.ndarray, scores: list[float | None], ids: list[str] | None = None) -> list[Prediction]:
    ids = ids or [f"test{i:03d}" for i in range(len(targets))]
    return [Prediction(id=i, target=float(t), score=s, error=None if s is not None else "unreadable: x")
            for i, t, s in zip(ids, targets, scores)]


def write_run(run_dir: Path, lines: list[Prediction], task: str = "ldct_iqa", model: str = "stub", **setting) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "predictions.jsonl").write_text("".join(json.dumps(line.to_json()) + "\n" for line in lines))
    (run_dir / "results.json").write_text(json.dumps({
        "model": model, "task": task, "strategy": "few_shot", "selection": "random", "shots": 10, "metadata": "none",
        "seed": 0, "metrics": {name: None for name in ALL}, **setting}))
    return run_dir


def two_runs(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray, np.ndarray]:
    """A: 40 items, two failures; B: better answers, one other failure, and an item A never answered."""
    rng = np.random.default_rng(11)
    targets = rng.integers(0, 5, (41, 5)).mean(axis=1)
    a = np.clip(np.round(targets + rng.normal(0, 0.9, 41), 1), 0, 4)
    a[::2] = np.rint(a[::2])
    b = np.clip(np.round(targets + rng.normal(0, 0.5, 41), 1), 0, 4)
    scores_a: list[float | None] = list(map(float, a[:40]))
    scores_b: list[float | None] = list(map(float, b))
    scores_a[3] = scores_a[17] = None
    scores_b[25] = None
    run_a = write_run(tmp_path / "a", records(targets[:40], scores_a), model="model-a")
    run_b = write_run(tmp_path / "b", records(targets, scores_b), model="model-b")
    shared = [i for i in range(40) if scores_a[i] is not None and scores_b[i] is not None]
    return run_a, run_b, targets[shared], a[shared], b[shared]


def printed_rows(out: str) -> dict[str, list[float]]:
    """metric -> [A, B, B - A, low, high, p] from compare's table."""
    rows = {}
    for line in out.splitlines():
        name = line.split(" ", 1)[0].lower()
        if name in ALL:
            rows[name] = [float(x) for x in re.findall(r"[-+]?\d+\.\d+", line)]
    return rows


def test_compare_prints_what_a_direct_paired_resampling_gives(tmp_path, capsys):
    run_a, run_b, y, a, b = two_runs(tmp_path)
    n = len(y)
    main(["compare", str(run_a), str(run_b), "--resamples", str(RESAMPLES), "--seed", str(SEED)])
    out = capsys.readouterr().out
    assert f"{n} shared items" in out and "A scored 38, B scored 40" in out
    rows = printed_rows(out)
    assert set(rows) == set(ALL)

    # By hand: the same resamples of the shared items (sorted by id) for both runs, scipy on each.
    idx = np.random.default_rng(SEED).integers(0, n, (RESAMPLES, n))
    draws = {name: [] for name in ALL}
    for row in idx:
        ra, rb = correlations(y[row], a[row]), correlations(y[row], b[row])
        for name in ALL:
            draws[name].append(rb[name] - ra[name])
    point_a, point_b = correlations(y, a), correlations(y, b)
    t = stats.t.ppf(0.975, n - 1)
    for name in ALL:
        delta = point_b[name] - point_a[name]
        spread = np.array(draws[name])
        se = spread[np.isfinite(spread)].std(ddof=1)
        expected = [point_a[name], point_b[name], delta, delta - t * se, delta + t * se,
                    2 * stats.t.sf(abs(delta) / se, n - 1)]
        assert rows[name] == pytest.approx(expected, abs=6e-5), name


def test_identical_runs_differ_by_nothing(tmp_path):
    y = np.linspace(0, 4, 30)
    lines = records(y, [float(round(v + (i % 3) * 0.3, 1)) for i, v in enumerate(y)])
    deltas = paired_deltas(lines, lines, resamples=300)
    assert set(deltas) == set(ALL)
    for d in deltas.values():
        assert (d.delta, d.low, d.high, d.p_value, d.n) == (0.0, 0.0, 0.0, 1.0, 30)


def test_a_clearly_better_run_has_a_small_p_value_and_an_interval_above_zero():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, (200, 5)).mean(axis=1)
    weak = records(y, list(np.round(y + rng.normal(0, 1.5, 200), 1)))
    strong = records(y, list(np.round(y + rng.normal(0, 0.3, 200), 1)))
    d = paired_deltas(weak, strong, resamples=500)["overall"]
    assert d.delta > 0 and d.low > 0 and d.p_value < 0.001
    assert paired_deltas(strong, weak, resamples=500)["overall"].high < 0


def test_paired_intervals_stay_where_a_difference_can_lie():
    """Six items, B nearly perfect: B - A is near the edge of its range ([-2, 2] for a correlation, [-3, 3]
    for overall) and +- t x SE would cross it; the interval stops at the edge."""
    y = np.array([0.2, 1.0, 1.8, 2.6, 3.4, 4.0])
    b = records(y, [0.3, 1.2, 1.6, 2.8, 3.2, 3.9])
    crossed = set()
    for a in ([2.5, 1.1, 0.2, 0.1, 3.3, 3.6], [3.8, 3.0, 2.5, 1.0, 0.5, 0.2]):
        for name, d in paired_deltas(records(y, a), b, resamples=300).items():
            span = 3 if name == "overall" else 2
            assert -span <= d.low <= d.delta <= d.high <= span, name
            if d.delta + (d.delta - d.low) > span:  # the unclipped upper end, from the untouched lower one
                assert d.high == span
                crossed.add(name)
    assert {"plcc", "krocc", "overall"} <= crossed


def test_fewer_than_three_shared_items_give_no_interval():
    lines = records(np.array([1.0, 2.0]), [1.0, 2.0])
    d = paired_deltas(lines, lines)["plcc"]
    assert d.n == 2 and math.isnan(d.low) and math.isnan(d.p_value)


def refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_compare_refuses_runs_of_different_tasks(tmp_path, capsys):
    y = np.linspace(0, 4, 10)
    run_a = write_run(tmp_path / "a", records(y, list(y)), task="ldct_iqa")
    run_b = write_run(tmp_path / "b", records(y, list(y)), task="demo")
    assert "different tasks (ldct_iqa and demo)" in refused(["compare", str(run_a), str(run_b)], capsys)


def test_compare_refuses_runs_with_no_shared_scored_item(tmp_path, capsys):
    y = np.linspace(0, 4, 10)
    run_a = write_run(tmp_path / "a", records(y, list(y)))
    run_b = write_run(tmp_path / "b", records(y, list(y), ids=[f"other{i}" for i in range(10)]))
    assert "no item was scored by both runs" in refused(["compare", str(run_a), str(run_b)], capsys)


def test_compare_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    run_a = write_run(tmp_path / "a", records(np.linspace(0, 4, 5), [1.0] * 5))
    (tmp_path / "empty").mkdir()
    assert "no ldct-bench results.json" in refused(["compare", str(run_a), str(tmp_path / "empty")], capsys)


def test_items_with_different_targets_are_not_the_same_item():
    a = records(np.array([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0])
    b = records(np.array([1.0, 2.0, 3.5]), [1.0, 2.0, 3.0])
    from ldct_bench.errors import UserError
    with pytest.raises(UserError, match="test002 has target 3.0 in one run and 3.5"):
        paired_deltas(a, b)


def header(out: str) -> tuple[str, str]:
    lines = out.splitlines()
    return lines[0].split("  (")[0], lines[1].split("  (")[0]


def test_headers_name_every_setting_in_which_the_runs_differ(tmp_path, capsys):
    y = np.linspace(0, 4, 12)
    lines = records(y, [float(round(v + (i % 3) * 0.3, 1)) for i, v in enumerate(y)])
    runs = {
        "plain": write_run(tmp_path / "plain", lines, config_digest="aaaa"),  # an older run: no repeats, scoring
        "sampled": write_run(tmp_path / "sampled", lines, repeats=5, scoring="expected", config_digest="bbbb"),
        "card": write_run(tmp_path / "card", lines, config_digest="cccc"),  # e.g. the card's temperature changed
        "baseline": write_run(tmp_path / "baseline", lines, model="noise-baseline", strategy="baseline",
                              selection=None, shots=None, config_digest="dddd"),
        "external": write_run(tmp_path / "external", lines, model="paper-o3", strategy="external", selection=None,
                              shots=None, metadata="-", config_digest="eeee"),
    }

    def compared(a: str, b: str) -> tuple[str, str]:
        main(["compare", str(runs[a]), str(runs[b]), "--resamples", "100"])
        return header(capsys.readouterr().out)

    assert compared("plain", "sampled") == (
        "A: stub | few_shot/random k=10 | metadata none | seed=0",
        "B: stub | few_shot/random k=10 | metadata none | repeats 5 | scoring expected | seed=0")
    assert compared("plain", "card") == ("A: stub | few_shot/random k=10 | metadata none | seed=0 | config aaaa",
                                         "B: stub | few_shot/random k=10 | metadata none | seed=0 | config cccc")
    assert compared("baseline", "external") == ("A: noise-baseline | baseline (no prompt)",
                                                 "B: paper-o3 | predictions made elsewhere")


def test_a_tiny_p_value_is_printed_as_below_the_shown_precision(tmp_path, capsys):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, (200, 5)).mean(axis=1)
    weak = write_run(tmp_path / "weak", records(y, list(np.round(y + rng.normal(0, 1.5, 200), 1))))
    strong = write_run(tmp_path / "strong", records(y, list(np.round(y + rng.normal(0, 0.3, 200), 1))))
    main(["compare", str(weak), str(strong), "--resamples", "300"])
    overall = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("OVERALL"))
    assert overall.endswith("< 0.0001") and "0.0000" not in overall
