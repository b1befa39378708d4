"""The page: the runs' setting, metrics and diagnostics and the scatter on top, then one row per test item,
worst |error| first; written as index.html beside its thumbs/ and images/ folders, opened from file://."""

from __future__ import annotations

from pathlib import Path

from ldct_bench.paths import write_atomic
from ldct_bench.report.setting import strategy_text
from ldct_bench.stats.diagnostics import BANDS
from ldct_bench.view import PAGE
from ldct_bench.view.assets import SCRIPT, STYLE
from ldct_bench.view.images import Pictures
from ldct_bench.view.items import align, header, item_body, sort_keys, worst_first
from ldct_bench.view.runs import ViewRun
from ldct_bench.view.summary import band_table, region_table, scatters, summary_table
from ldct_bench.view.text import esc

HELP = ("Rows start with the worst |error|; failed items are listed after the scored ones (the 'failed' box shows only "
        "them). Click a row for the whole answer and the examples the prompt showed, a thumbnail to see the image "
        "as the model was sent it, a point of the scatter to open its item, a column header to sort.")


def _title(runs: list[ViewRun]) -> str:
    if len(runs) == 1:
        results = runs[0].results
        return f"{results.model} on {results.task}: {strategy_text(results)}"
    tasks = sorted({run.results.task for run in runs})
    return f"{len(runs)} runs on {', '.join(tasks)}"


def _sources(runs: list[ViewRun]) -> str:
    if len(runs) == 1:
        return f"run dir <code>{esc(runs[0].dir)}</code>"
    return " · ".join(f"<span class='label'>{run.label}</span> <code>{esc(run.dir)}</code>" for run in runs)


def _controls(runs: list[ViewRun], regions: list[str]) -> str:
    options = "".join(f"<option value='{key}'>{esc(label)}</option>" for key, label in sort_keys(runs))
    region = ("<label>region <select id='region'><option value=''>all</option>" + "".join(
        f"<option>{esc(r)}</option>" for r in regions) + "</select></label>") if regions else ""
    bands = "".join(f"<option>{name}</option>" for name, _, _ in BANDS)
    failed = "failed in any run" if len(runs) > 1 else "failed only"
    return (f"<div class='controls'><label>sort by <select id='sort'>{options}</select></label>"
            "<button id='dir' type='button'>largest first</button>"
            f"{region}<label>true score <select id='band'><option value=''>all</option>{bands}</select></label>"
            f"<label><input type='checkbox' id='failed'> {failed}</label><span id='count'></span></div>")


def page_html(runs: list[ViewRun], pictures: Pictures) -> str:
    """The whole page as one string; the pictures it names are written by `pictures` as it goes."""
    items = align(runs)
    anchors = {item.id: item.anchor for item in items}
    regions = sorted({str(region) for item in items for record in item.records if record is not None
                      for region in [record.meta.get("region")] if region})
    colgroup, head = header(runs)
    bodies = "\n".join(item_body(item, runs, pictures) for item in worst_first(items, runs))
    title = esc(_title(runs))
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n<p class='sub'>{_sources(runs)}</p>\n"
            f"{summary_table(runs)}\n<div class='row'>{scatters(runs, anchors)}{band_table(runs)}"
            f"{region_table(runs)}</div>\n<p class='sub'>{esc(HELP)}</p>\n{_controls(runs, regions)}\n"
            f"<table id='items' class='items'>{colgroup}{head}\n{bodies}\n</table>\n"
            "<div id='zoom'><figure><img alt='the image enlarged'><figcaption></figcaption></figure></div>\n"
            f"<script>{SCRIPT}</script>\n</body></html>\n")


def write_page(runs: list[ViewRun], out: Path) -> Path:
    """index.html and its pictures in `out`; pictures an earlier build left and this page does not show go."""
    pictures = Pictures(out)
    text = page_html(runs, pictures)
    path = Path(out) / PAGE
    write_atomic(path, text)
    pictures.remove_stale()
    return path
