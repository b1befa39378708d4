"""The top of the page: each run's setting, metrics with 95% intervals and diagnostics, then errors by
true-score band and by region, and the scatter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ldct_bench.report.setting import prompted, strategy_text
from ldct_bench.run.results import Results
from ldct_bench.stats.diagnostics import BANDS, MEANING
from ldct_bench.stats.metrics import ALL, NAMES
from ldct_bench.view.runs import ViewRun
from ldct_bench.view.scatter import scatter_svg
from ldct_bench.view.text import DASH, esc, interval, num, signed

# The diagnostics under the names results.json gives them, each shown its way.
DIAGNOSTICS: list[tuple[str, Callable[[Any], str]]] = [
    ("bias", signed), ("mae", num), ("slope", num), ("intercept", num), ("sd_ratio", num), ("distinct", str),
    ("mode_share", num)]


def _run_cell(run: ViewRun, several: bool) -> str:
    results = run.results
    label = f'<span class="label">{run.label}</span> ' if several else ""
    return (f'<td title="{esc(run.dir)}">{label}<b>{esc(results.model)}</b>'
            f'<small>task {esc(results.task)}</small></td>')


def _setting_cell(results: Results) -> str:
    parts = [esc(strategy_text(results))]
    if prompted(results):
        parts.append(f"metadata {esc(results.metadata)}")
    parts.append(f"repeats {esc(results.repeats)} · scoring {esc(results.scoring)} · seed {esc(results.seed)}")
    return "<td>" + "".join(f"<small>{part}</small>" if i else part for i, part in enumerate(parts)) + "</td>"


def _items_cell(results: Results) -> str:
    failed = "".join(f"<small class='bad'>{esc(count)} {esc(reason)}</small>"
                     for reason, count in results.failures.items())
    cost = results.cost_usd
    return (f"<td>{esc(results.n_scored)} of {esc('?' if results.n is None else results.n)} scored{failed}"
            + (f"<small>cost ${cost:.4f}</small>" if cost is not None else "") + "</td>")


def _metric_cell(results: Results, name: str) -> str:
    return f"<td class='num'>{num(results.metrics.get(name), 3)}<small>{interval(results.ci.get(name))}</small></td>"


def summary_table(runs: list[ViewRun]) -> str:
    """One row per run: who, how, how many items, the challenge's metrics and the diagnostics."""
    several = len(runs) > 1
    heads = ["run", "setting", "items", *(f"{name.upper()}<small>95% CI</small>" for name in ALL)]
    head = "".join(f"<th>{h}</th>" for h in heads) + "".join(
        f"<th title='{esc(MEANING[name])}'>{name}</th>" for name, _ in DIAGNOSTICS)
    rows = []
    for run in runs:
        cells = [_run_cell(run, several), _setting_cell(run.results), _items_cell(run.results)]
        cells += [_metric_cell(run.results, name) for name in ALL]
        cells += [f"<td class='num'>{DASH if value is None else show(value)}</td>"
                  for name, show in DIAGNOSTICS for value in [run.diagnostics.get(name)]]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='summary'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _group_table(caption: str, heads: list[str], groups: list[str], runs: list[ViewRun],
                 cells: Callable[[ViewRun, str], list[str] | None]) -> str:
    """A table with a row per group (and per run in a page of several); a run without the group is left out."""
    several = len(runs) > 1
    head = "".join(f"<th>{h}</th>" for h in [caption, *(["run"] if several else []), *heads])
    rows = []
    for group in groups:
        lines = [(run, row) for run in runs for row in [cells(run, group)] if row is not None]
        for index, (run, row) in enumerate(lines):
            first = f"<td rowspan='{len(lines)}'>{esc(group)}</td>" if index == 0 else ""
            label = f"<td><span class='label'>{run.label}</span></td>" if several else ""
            rows.append(f"<tr>{first}{label}{''.join(row)}</tr>")
    return f"<table class='groups'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _errors(entry: dict[str, Any]) -> list[str]:
    return [f"<td class='num'>{entry.get('n', 0)}</td>", f"<td class='num'>{num(entry.get('mae'))}</td>",
            f"<td class='num'>{signed(entry.get('bias'))}</td>"]


def band_table(runs: list[ViewRun]) -> str:
    def cells(run: ViewRun, band: str) -> list[str] | None:
        entry = (run.diagnostics.get("by_band") or {}).get(band)
        return None if entry is None else _errors(entry)

    return _group_table("true score", ["n", "mae", "bias"], [name for name, _, _ in BANDS], runs, cells)


def region_table(runs: list[ViewRun]) -> str:
    """Errors per region and, where a region has enough items, its correlations with 95% intervals."""
    regions = sorted({region for run in runs for region in (run.diagnostics.get("by_region") or {})})
    if not regions:
        return ""

    def cells(run: ViewRun, region: str) -> list[str] | None:
        entry = (run.diagnostics.get("by_region") or {}).get(region)
        if entry is None:
            return None
        return _errors(entry) + [f"<td class='num'>{num(entry.get(name), 3)}"
                                 f"<small>{interval((entry.get('ci') or {}).get(name))}</small></td>" for name in NAMES]

    return _group_table("region", ["n", "mae", "bias", *(name.upper() for name in NAMES)], regions, runs, cells)


def scatters(runs: list[ViewRun], anchors: dict[str, str]) -> str:
    """One scatter per run, smaller when there are several, so three sit beside the band and region tables."""
    several = len(runs) > 1
    size = 290 if not several else 240 if len(runs) == 2 else 200
    return "".join(scatter_svg(run.records, anchors, run.diagnostics,
                               (f"{run.label}: " if several else "") + f"{run.results.model}, "
                               f"{strategy_text(run.results)}", size) for run in runs)
