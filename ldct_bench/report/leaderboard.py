"""Leaderboard rows: one per run name (config/identity.py: everything that can change the answers), ranked by
overall within a task.

Rows come from local run dirs, from a W&B project (online only), and optionally from published results,
which are kept apart (never merged with a local run of the same setting) and marked as not run here.
A run that scored fewer than `min_coverage` of its items is measured on a subset, so it is flagged and
ranked after the others. Each row's distance from its task's best run comes with a paired interval over
the items both scored, which says whether the two can be told apart at all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ldct_bench.errors import UserError
from ldct_bench.report.plots import SCATTER, scatter_png
from ldct_bench.report.published import published_results
from ldct_bench.report.runs import find_run_dirs, read_predictions
from ldct_bench.report.setting import setting_text
from ldct_bench.run.records import Prediction
from ldct_bench.run.results import RESULTS, Results, read_results
from ldct_bench.stats.diagnostics import PREFIX, diagnostics
from ldct_bench.stats.paired import paired_deltas

# The diagnostics a row shows: whether the model scores too high or low, compresses the scale, or calls most
# images the same (stats/diagnostics.py); the viewer shows them all.
HEADLINE = ("bias", "slope", "mode_share")


@dataclass(frozen=True)
class Row:
    task: str
    model: str
    strategy: str
    shots: int | None
    metadata: str
    overall: float | None
    plcc: float | None
    srocc: float | None
    krocc: float | None
    overall_ci: tuple[float | None, float | None] = (None, None)
    coverage: float | None = None
    n: int | None = None
    cost_usd: float | None = None
    source: str = ""  # the run dir, the W&B run URL, or the publication
    run_dir: Path | None = None
    published: bool = False
    complete: bool = True
    when: float = 0.0  # when the run finished (seconds since the epoch), to prefer the newest of equals
    runs: int = 1  # runs found with this key; the row shows the newest complete one
    rank: int | None = None
    low_coverage: bool = False  # scored under min_coverage of its items: ranked after the rest
    best: bool = False  # the task's reference: its best-ranked run with predictions
    delta: float | None = None  # overall minus the best run's (paired over shared items when both have them)
    delta_ci: tuple[float | None, float | None] = (None, None)
    tied_with_best: bool | None = None  # the paired interval holds 0: cannot be told apart from the best
    name: str = ""  # the run's identity (config/identity.py): rows of different settings never fold together
    details: str = ""  # every setting behind the name, for the row's tooltip
    bias: float | None = None  # mean(prediction - true)
    slope: float | None = None  # of the least-squares line prediction = a + slope x true; 1 is ideal
    mode_share: float | None = None  # share of items on the most common prediction

    @property
    def key(self) -> tuple:
        return (self.published, self.task, self.name)


def strategy_label(results: Results) -> str:
    """`few_shot/random`: the selection policy is part of what makes runs comparable."""
    return f"{results.strategy}/{results.selection}" if results.selection else results.strategy


def row_from_results(results: Results, source: str, *, run_dir: Path | None = None,
                     published: bool = False, when: float = 0.0) -> Row:
    """A row from results.json (or a W&B run, or a published table line, read into the same type)."""
    metrics, ci, figures = results.metrics, results.ci or {}, results.diagnostics or {}
    low, high = ci.get("overall") or (None, None)
    return Row(task=results.task, model=results.model, strategy=strategy_label(results),
               shots=results.shots, metadata=results.metadata, overall=metrics.get("overall"),
               plcc=metrics.get("plcc"), srocc=metrics.get("srocc"), krocc=metrics.get("krocc"),
               overall_ci=(low, high), coverage=results.coverage, n=results.n, cost_usd=results.cost_usd,
               source=source, run_dir=run_dir, published=published, complete=results.complete, when=when,
               name=results.name, details=f"{results.task} | {results.model} | {setting_text(results)}",
               bias=figures.get("bias"), slope=figures.get("slope"), mode_share=figures.get("mode_share"))


def rows_from_run_dirs(run_dirs: Iterable[Path]) -> list[Row]:
    """Rows of finished run dirs; a run written before results.json held diagnostics gets them from its journal."""
    rows = []
    for run_dir in run_dirs:
        results = read_results(run_dir)
        if results is not None:
            if results.diagnostics is None:
                results = replace(results, diagnostics=diagnostics(read_predictions(run_dir)))
            rows.append(row_from_results(results, str(run_dir), run_dir=Path(run_dir),
                                         when=(Path(run_dir) / RESULTS).stat().st_mtime))
    return rows


def rows_from_folders(folders: Iterable[Path]) -> list[Row]:
    """Rows for every run dir under the folders."""
    return rows_from_run_dirs(find_run_dirs(folders))


def row_from_wandb(config: dict[str, Any], summary: dict[str, Any], url: str, when: float = 0.0) -> Row | None:
    """A row from a W&B run logged by ldct-bench (its config's `benchmark` block and summary); None otherwise."""
    identity = config.get("benchmark")
    if not isinstance(identity, dict) or "overall" not in summary:
        return None
    results = Results.from_json({
        **identity, "metrics": {k: summary.get(k) for k in ("plcc", "srocc", "krocc", "overall")},
        "ci": {"overall": [summary.get("overall_ci_low"), summary.get("overall_ci_high")]},
        **{k: summary.get(k) for k in ("coverage", "n", "cost_usd")},
        "diagnostics": {name: summary.get(f"{PREFIX}/{name}") for name in HEADLINE}})
    return row_from_results(results, url, when=when)


def rows_from_wandb_project(project: str) -> list[Row]:
    """Rows from a W&B project through the public API; refuses in one line when W&B cannot be reached."""
    from ldct_bench.report.wandb_env import resolve_mode

    if resolve_mode("auto") != "online":
        raise UserError(f"--wandb-project {project} reads runs through the W&B API, which needs a key and the network: "
                        "run `wandb login` or set WANDB_API_KEY (and unset WANDB_MODE=offline), or pass run dirs")
    import wandb

    try:
        runs = list(wandb.Api(timeout=30).runs(project, filters={"jobType": "eval"}))
    except (wandb.errors.Error, ValueError) as exc:
        raise UserError(f"cannot read W&B project {project} ({exc.__class__.__name__}); "
                        "give it as ENTITY/PROJECT and check `wandb login`") from None
    rows = [row_from_wandb(dict(run.config), dict(run.summary), run.url) for run in runs]
    return [row for row in rows if row is not None]


def published_rows() -> list[Row]:
    return [row_from_results(r, f"published, not run here: {r.source}", published=True) for r in published_results()]


def newest_per_key(rows: list[Row]) -> list[Row]:
    """One row per setting: the newest complete run (else the newest), counting how many runs shared it."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.key].append(row)
    return [replace(max(group, key=lambda r: (r.complete, r.when)), runs=len(group)) for group in groups.values()]


DEFAULT_MIN_COVERAGE = 0.9


def ranked(rows: list[Row], min_coverage: float = DEFAULT_MIN_COVERAGE) -> list[Row]:
    """Rows grouped by task, best overall first, runs under min_coverage and rows without a score last,
    numbered within their task, each with its distance from the task's best run."""
    flagged = [replace(r, low_coverage=r.coverage is not None and r.coverage < min_coverage) for r in rows]
    order = sorted(flagged, key=lambda r: (r.task, r.low_coverage, r.overall is None, -(r.overall or 0.0), r.model,
                                           r.strategy))
    numbered: list[Row] = []
    position: defaultdict[str, int] = defaultdict(int)
    for row in order:
        position[row.task] += 1
        numbered.append(replace(row, rank=position[row.task]))
    return with_deltas(numbered)


def with_deltas(rows: list[Row], resamples: int = 2000) -> list[Row]:
    """Each row's overall minus its task's best run (the first ranked run dir with enough coverage).

    Rows with predictions get the paired bootstrap of the difference over the items both scored; rows without
    (published, W&B) get the plain difference and no interval.
    """
    best = {}
    for row in rows:
        if row.task not in best and row.run_dir is not None and not row.low_coverage and row.overall is not None:
            best[row.task] = row
    records: dict[Path, list[Prediction]] = {}
    out = []
    for row in rows:
        reference = best.get(row.task)
        if reference is None or reference.overall is None or row.overall is None:
            out.append(row)
        elif row is reference:
            out.append(replace(row, best=True, delta=0.0))
        elif row.run_dir is None or reference.run_dir is None:
            out.append(replace(row, delta=round(row.overall - reference.overall, 6)))
        else:
            for run_dir in (reference.run_dir, row.run_dir):
                if run_dir not in records:
                    records[run_dir] = read_predictions(run_dir)
            paired = paired_deltas(records[reference.run_dir], records[row.run_dir], resamples=resamples)["overall"]
            known = not math.isnan(paired.low)
            out.append(replace(row, delta=round(paired.delta, 6),
                               delta_ci=(paired.low, paired.high) if known else (None, None),
                               tied_with_best=paired.low <= 0.0 <= paired.high if known else None))
    return out


def build(folders: list[Path], wandb_project: str | None = None, published: bool = False,
          min_coverage: float = DEFAULT_MIN_COVERAGE) -> list[Row]:
    """The leaderboard: local runs, W&B runs and (optionally) published rows, deduplicated and ranked."""
    rows = rows_from_folders(folders) if folders else []
    if wandb_project:
        rows += rows_from_wandb_project(wandb_project)
    if not rows:
        where = ", ".join(map(str, folders)) or f"W&B project {wandb_project}"
        raise UserError(f"no runs found in {where}; run `python -m ldct_bench` first or give the folder holding "
                        "run dirs (each has a results.json)")
    if published:
        rows += published_rows()
    return ranked(newest_per_key(rows), min_coverage)


def scatter_for(row: Row) -> bytes | None:
    """The run's scatter PNG: the file the run wrote, else drawn from its journal; None for rows without one."""
    if row.run_dir is None:
        return None
    path = row.run_dir / SCATTER
    if path.exists():
        return path.read_bytes()
    records, results = read_predictions(row.run_dir), read_results(row.run_dir)
    return scatter_png(records, results) if records and results else None
