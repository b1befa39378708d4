"""The paper's two figures for one run, as PNG: predicted vs radiologist score, and both score distributions.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no display, no global backend state), so
plots work in sweeps, worker processes and headless machines alike.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ldct_bench.paths import write_atomic
from ldct_bench.report.setting import setting_text
from ldct_bench.run.records import Prediction
from ldct_bench.run.results import Results, read_results

SCATTER = "scatter.png"
DISTRIBUTION = "distribution.png"
SCORE_MIN, SCORE_MAX = 0.0, 4.0
BIN_WIDTH = 0.25  # whole and quarter scores sit at bin centres: 17 bins from -0.125 to 4.125
RADIOLOGISTS, MODEL = "tab:orange", "tab:blue"


def scored_pairs(records: list[Prediction]) -> tuple[np.ndarray, np.ndarray]:
    """Radiologist targets and model scores of the items that got a score (failures have none)."""
    scored = [(r.target, r.score) for r in records if r.score is not None]
    return (np.array([t for t, _ in scored], dtype=float), np.array([s for _, s in scored], dtype=float))


def score_histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts per 0.25-wide bin centred on 0, 0.25, ..., 4 (shared by the PNG and the W&B chart)."""
    centres = np.arange(SCORE_MIN, SCORE_MAX + BIN_WIDTH / 2, BIN_WIDTH)
    edges = np.append(centres - BIN_WIDTH / 2, centres[-1] + BIN_WIDTH / 2)
    counts, _ = np.histogram(np.clip(values, SCORE_MIN, SCORE_MAX), bins=edges)
    return counts, centres


def title_of(results: Results) -> str:
    """Two lines: what was scored by whom, then how and on how many items."""
    scored, n = results.n_scored, results.n
    count = f"n = {scored}" + (f" of {n}" if n is not None and n != scored else "")
    return f"{results.task} | {results.model}\n{setting_text(results)} | {count}"


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=140)  # the leaderboard shows the scatter large on click
    return buffer.getvalue()


def _three(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _metrics_text(results: Results, n_failed: int) -> str:
    lines = [f"{name.upper():<7} {_three(results.metrics.get(name))}" for name in ("plcc", "srocc", "krocc", "overall")]
    if n_failed:
        lines.append(f"{n_failed} without a score")
    return "\n".join(lines)


def coincident(targets: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (target, score) points and how many items fall on each (equal to 3 decimals)."""
    if not len(targets):
        return targets, scores, np.zeros(0, dtype=int)
    points, counts = np.unique(np.round(np.column_stack([targets, scores]), 3), axis=0, return_counts=True)
    return points[:, 0], points[:, 1], counts


def scatter_png(records: list[Prediction], results: Results) -> bytes:
    """Paper figure 2: model score against the radiologists' mean, with the y = x line of perfect agreement.

    Answers cluster on a few values (models like whole scores), so each distinct point's area grows with
    the items on it, and the markers are translucent where they overlap.
    """
    targets, scores = scored_pairs(records)
    xs, ys, counts = coincident(targets, scores)
    figure = Figure(figsize=(5.0, 5.2))
    axes = figure.add_subplot()
    axes.plot([SCORE_MIN, SCORE_MAX], [SCORE_MIN, SCORE_MAX], "--", color="0.5", lw=1, label="y = x", zorder=1)
    area = min(22.0, 450.0 / max(1, counts.max(initial=1)))  # marker area per item; the biggest stays readable
    axes.scatter(xs, ys, s=area * counts, alpha=0.55, color=MODEL, edgecolors="navy", linewidths=0.5, zorder=2)
    if counts.max(initial=1) > 1:  # a key for the sizes, only when some points hold several items
        for size in (1, int(counts.max())):
            axes.scatter([], [], s=area * size, alpha=0.55, color=MODEL, edgecolors="navy", linewidths=0.5,
                         label=f"{size} item{'s' if size > 1 else ''}")
    axes.set(xlim=(-0.15, 4.15), ylim=(-0.15, 4.15), xlabel="radiologist score (mean of readers)",
             ylabel="model score", aspect="equal", xticks=range(5), yticks=range(5))
    axes.grid(color="0.92", lw=0.6, zorder=0)
    axes.set_title(title_of(results), fontsize=9)
    axes.text(0.03, 0.97, _metrics_text(results, len(records) - len(scores)), transform=axes.transAxes,
              va="top", fontsize=8, family="monospace", bbox={"facecolor": "white", "alpha": 0.85, "lw": 0})
    axes.legend(loc="lower right", fontsize=8, labelspacing=1.0, borderpad=0.8)
    figure.tight_layout()
    return _png(figure)


def distribution_png(records: list[Prediction], results: Results) -> bytes:
    """Paper figure 3: how the radiologist scores and the model scores spread over the 0-4 scale.

    The two histograms stand side by side within each bin (never stacked or blended), each bin centred
    on its score, and the count axis shows whole images only.
    """
    targets, scores = scored_pairs(records)
    figure = Figure(figsize=(6.4, 3.8))
    axes = figure.add_subplot()
    bar = BIN_WIDTH * 0.36  # two bars and a gap per bin, so neighbouring bins' pairs stay apart
    for values, label, colour, shift in ((targets, "radiologists", RADIOLOGISTS, -bar / 2),
                                         (scores, "model", MODEL, bar / 2)):
        counts, centres = score_histogram(values)
        axes.bar(centres + shift, counts, width=bar, color=colour, label=label, zorder=2)
    axes.set(xlim=(SCORE_MIN - BIN_WIDTH, SCORE_MAX + BIN_WIDTH), xlabel="score (0 bad ... 4 excellent)",
             ylabel="images", xticks=np.arange(SCORE_MIN, SCORE_MAX + 0.5, 0.5))
    axes.set_xticks(np.arange(SCORE_MIN, SCORE_MAX + BIN_WIDTH / 2, BIN_WIDTH), minor=True)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", color="0.92", lw=0.6, zorder=0)
    axes.set_title(title_of(results), fontsize=9)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return _png(figure)


class CostPoint(NamedTuple):
    """One run on the leaderboard's overall-against-cost chart, marked by its rank in the table."""

    task: str
    rank: int
    label: str
    cost_usd: float
    overall: float
    low: float | None
    high: float | None


def _dollars(value: float, _: Any = None) -> str:
    return "$0" if value == 0 else f"${value:g}"


def free_tasks(points: list[CostPoint]) -> list[str]:
    """Tasks whose every run cost $0: a cost axis tells nothing there, so they get no chart."""
    return sorted({p.task for p in points} - {p.task for p in points if p.cost_usd != 0})


def _rank_labels(axes: Any, points: list[CostPoint]) -> None:
    """Each point's rank beside it, best rank first; a rank whose label would cover one already drawn joins it
    ("1, 2"), so runs of equal cost and overall stay readable. Needs the axes' limits set and a canvas."""
    renderer = axes.figure.canvas.get_renderer()
    drawn: list[Any] = []
    for point in points:
        label = axes.annotate(str(point.rank), (point.cost_usd, point.overall), textcoords="offset points",
                              xytext=(5, 3), fontsize=8, weight="bold")
        box = label.get_window_extent(renderer)
        covered = next((other for other in drawn if other.get_window_extent(renderer).overlaps(box)), None)
        if covered is None:
            drawn.append(label)
        else:
            label.remove()
            covered.set_text(f"{covered.get_text()}, {point.rank}")


def cost_chart(points: list[CostPoint]) -> Figure | None:
    """Overall (with its interval) against dollars spent, one panel per task: what a user picks a model by;
    None when no task has a run that cost anything (free_tasks names those).

    Points carry their table rank and a key beside each panel names them. The cost axis is linear near zero
    and logarithmic above a cent, so free baselines and $50 runs share it.
    """
    tasks = sorted({point.task for point in points} - set(free_tasks(points)))
    if not tasks:
        return None
    figure = Figure(figsize=(10.5, 3.9 * len(tasks)))
    FigureCanvasAgg(figure)
    for number, task in enumerate(tasks, 1):
        axes = figure.add_subplot(len(tasks), 1, number)
        mine = sorted((point for point in points if point.task == task), key=lambda point: point.rank)
        for point in mine:
            errors = None if point.low is None or point.high is None else \
                [[point.overall - point.low], [point.high - point.overall]]
            axes.errorbar([point.cost_usd], [point.overall], yerr=errors, fmt="o", color=MODEL, ms=6, capsize=3,
                          elinewidth=1, alpha=0.75)
        lows = [p.low if p.low is not None else p.overall for p in mine]
        highs = [p.high if p.high is not None else p.overall for p in mine]
        axes.set_xscale("symlog", linthresh=0.01)
        axes.xaxis.set_major_formatter(FuncFormatter(_dollars))
        axes.set_xlim(left=-0.003, right=max(0.1, max(point.cost_usd for point in mine) * 3))
        axes.set_ylim(max(0.0, min(lows) - 0.15), min(3.0, max(highs) + 0.15))
        axes.set(xlabel="cost of the run", ylabel="overall (95% CI)", title=f"task {task}: overall against cost")
        axes.grid(color="0.92", lw=0.6)
        key = "\n".join(f"{point.rank:>3}  {point.label}" for point in mine)
        axes.text(1.02, 1.0, key, transform=axes.transAxes, va="top", fontsize=8, family="monospace")
    figure.subplots_adjust(left=0.07, right=0.62, bottom=0.14 / len(tasks), top=1 - 0.09 / len(tasks), hspace=0.45)
    for axes, task in zip(figure.axes, tasks):  # placed once the layout is final: overlap is judged as drawn
        _rank_labels(axes, sorted((p for p in points if p.task == task), key=lambda point: point.rank))
    return figure


def cost_chart_png(points: list[CostPoint]) -> bytes | None:
    figure = cost_chart(points)
    return None if figure is None else _png(figure)


def write_plots(run_dir: Path, records: list[Prediction], results: Results) -> dict[str, Path]:
    """Both figures as PNG files in the run dir (each whole or absent, never half-written); their paths by name."""
    paths = {"scatter": Path(run_dir) / SCATTER, "distribution": Path(run_dir) / DISTRIBUTION}
    for name, draw in (("scatter", scatter_png), ("distribution", distribution_png)):
        write_atomic(paths[name], draw(records, results))
    return paths


def main(argv: list[str] | None = None) -> None:
    """`python -m ldct_bench.report.plots RUN_DIR`: draw a finished run's plots from its journal and results."""
    from ldct_bench.report.runs import read_predictions

    run_dir = Path((argv or sys.argv[1:])[0])
    results = read_results(run_dir)
    if results is not None:
        write_plots(run_dir, read_predictions(run_dir), results)


if __name__ == "__main__":
    main()
