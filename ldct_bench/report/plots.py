"""The paper's two figures for one run, as PNG: predicted vs radiologist score, and both score distributions.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no display, no global backend state), so
plots work in sweeps, worker processes and headless machines alike.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SCATTER = "scatter.png"
DISTRIBUTION = "distribution.png"
SCORE_MIN, SCORE_MAX = 0.0, 4.0
BIN_WIDTH = 0.25


def scored_pairs(records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Radiologist targets and model scores of the items that got a score (failures have none)."""
    scored = [r for r in records if r.get("score") is not None]
    return (np.array([r["target"] for r in scored], dtype=float), np.array([r["score"] for r in scored], dtype=float))


def score_histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts per 0.25-wide bin over the 0-4 scale, and the bin centres (shared by the PNG and W&B charts)."""
    edges = np.arange(SCORE_MIN, SCORE_MAX + BIN_WIDTH / 2, BIN_WIDTH)
    counts, _ = np.histogram(np.clip(values, SCORE_MIN, SCORE_MAX), bins=edges)
    return counts, (edges[:-1] + edges[1:]) / 2


def title_of(results: dict[str, Any]) -> str:
    return f"{results['model']} | {results['strategy']} k={results['shots']} | metadata={results['metadata']}"


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _metrics_text(results: dict[str, Any], n_failed: int) -> str:
    show = (lambda v: "n/a" if v is None else f"{v:.3f}")
    metrics = results["metrics"]
    lines = [f"{name.upper()} {show(metrics[name])}" for name in ("plcc", "srocc", "krocc", "overall")]
    lines.append(f"n = {results['n_scored']}" + (f" ({n_failed} failed)" if n_failed else ""))
    return "\n".join(lines)


def scatter_png(records: list[dict[str, Any]], results: dict[str, Any]) -> bytes:
    """Paper figure 2: model score against the radiologists' mean, with the y = x line of perfect agreement."""
    targets, scores = scored_pairs(records)
    figure = Figure(figsize=(4.6, 4.6))
    axes = figure.add_subplot()
    axes.plot([SCORE_MIN, SCORE_MAX], [SCORE_MIN, SCORE_MAX], "--", color="0.5", lw=1, label="y = x")
    axes.scatter(targets, scores, s=18, alpha=0.7, color="tab:blue", edgecolors="none")
    axes.set(xlim=(-0.1, 4.1), ylim=(-0.1, 4.1), xlabel="radiologist score (mean)", ylabel="model score",
             aspect="equal")
    axes.set_title(title_of(results), fontsize=8)
    axes.text(0.03, 0.97, _metrics_text(results, len(records) - len(scores)), transform=axes.transAxes,
              va="top", fontsize=8, family="monospace", bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return _png(figure)


def distribution_png(records: list[dict[str, Any]], results: dict[str, Any]) -> bytes:
    """Paper figure 3: how the radiologist scores and the model scores spread over the 0-4 scale."""
    targets, scores = scored_pairs(records)
    figure = Figure(figsize=(5.6, 3.6))
    axes = figure.add_subplot()
    for values, label, colour in ((targets, "radiologists", "tab:orange"), (scores, "model", "tab:blue")):
        counts, centres = score_histogram(values)
        axes.bar(centres, counts, width=BIN_WIDTH, alpha=0.5, color=colour, label=label, edgecolor=colour)
    axes.set(xlim=(SCORE_MIN, SCORE_MAX), xlabel="score (0 bad - 4 excellent)", ylabel="images")
    axes.set_title(title_of(results), fontsize=8)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return _png(figure)


def write_plots(run_dir: Path, records: list[dict[str, Any]], results: dict[str, Any]) -> dict[str, Path]:
    """Both figures as PNG files in the run dir; returns their paths by name."""
    paths = {"scatter": Path(run_dir) / SCATTER, "distribution": Path(run_dir) / DISTRIBUTION}
    paths["scatter"].write_bytes(scatter_png(records, results))
    paths["distribution"].write_bytes(distribution_png(records, results))
    return paths
