"""One row per test item: the image the model saw, the truth, what each run said and how far off it was;
expanding a row shows the full answer, the samples, and the examples the prompt showed.

Each item is a <tbody> (its row, and its detail row in a <template>), so the page's script sorts and filters
items by moving whole tbodies; a detail row enters the page only when its row is first opened, and a row's
thumbnail loads when the row comes near the window (benchmarks/view_bench.py measures what both save).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any

from ldct_bench.report.setting import setting_text
from ldct_bench.run.records import Prediction
from ldct_bench.stats.diagnostics import band_of
from ldct_bench.view.images import Picture, Pictures
from ldct_bench.view.runs import ViewRun
from ldct_bench.view.text import DASH, esc, num, signed, sort_value

RAW_CHARS = 2000  # of a failed answer's raw reply shown in the detail
EXPLAINED_RUNS = 2  # up to this many runs side by side, each run's explanation has a column (1400 px allow it)


@dataclass(frozen=True)
class Item:
    """A test item across the runs shown: its records (None where a run has no line for it)."""

    id: str
    anchor: str  # the element id its scatter points link to
    records: tuple[Prediction | None, ...]

    @property
    def first(self) -> Prediction:
        return next(record for record in self.records if record is not None)


def error_of(record: Prediction | None) -> float | None:
    if record is None or record.score is None:
        return None
    return abs(record.score - record.target)


def align(runs: list[ViewRun]) -> list[Item]:
    """Every item any run has, by id, with each run's record side by side."""
    ids = sorted({record.id for run in runs for record in run.records})
    return [Item(item_id, f"i{index}", tuple(run.by_id.get(item_id) for run in runs))
            for index, item_id in enumerate(ids)]


def sort_keys(runs: list[ViewRun]) -> list[tuple[str, str]]:
    """(key, label) of the orders offered; the first is the default (descending): worst |error| first."""
    if len(runs) == 1:
        return [("err", "|error|"), ("pred", "prediction"), ("true", "true score"), ("id", "id")]
    keys = [("worst", "worst |error| of any run"), ("spread", "spread of the predictions (max - min)")]
    keys += [(f"diff{k}", f"difference {run.label} - A in |error|") for k, run in enumerate(runs) if k]
    keys += [(f"err{k}", f"|error| of {run.label}") for k, run in enumerate(runs)]
    keys += [(f"pred{k}", f"prediction of {run.label}") for k, run in enumerate(runs)]
    return keys + [("true", "true score"), ("id", "id")]


def worst_first(items: list[Item], runs: list[ViewRun]) -> list[Item]:
    """The page's first order, so the file itself lists items as the page shows them: the default key
    descending, items without a value (failed) last, ties by id."""
    key = sort_keys(runs)[0][0]
    values = {item.id: _attributes(item, runs)[key] for item in items}
    return sorted(items, key=lambda item: (values[item.id] is None, -(values[item.id] or 0.0), item.id))


# ---- cells ----

def _level_samples(record: Prediction) -> list[list[float] | None]:
    """Each sample's level probabilities (the journal keeps one list, or one per sample with repeats)."""
    given = record.level_probabilities
    if not given:
        return []
    return [given] if not isinstance(given[0], (list, type(None))) else given


def _levels(record: Prediction) -> str:
    """The five level probabilities (mean over samples) as a small bar chart; the numbers on hover."""
    samples = [sample for sample in _level_samples(record) if sample]
    if not samples:
        return ""
    mean = [fmean(sample[level] for sample in samples) for level in range(len(samples[0]))]
    bars = "".join(f'<rect x="{i * 9}" y="{18 - 18 * p:.1f}" width="7" height="{18 * p:.1f}"/>'
                   for i, p in enumerate(mean))
    title = "P(level) " + ", ".join(f"{i}: {p:.2f}" for i, p in enumerate(mean))
    return f'<svg class="levels" width="45" height="19" role="img"><title>{title}</title>{bars}</svg>'


def _samples(record: Prediction) -> str:
    scores = record.scores
    if not scores or len(scores) < 2:
        return ""
    return "<small>samples " + " · ".join("✗" if s is None else num(s) for s in scores) + "</small>"


def prediction(record: Prediction | None, with_category: bool = False) -> str:
    """The item's score with its samples and level probabilities; `failed` and the reason when it has none."""
    if record is None:
        return f"<span class='none'>{DASH}</span><small>not in this run</small>"
    if record.score is None:
        reason = record.error or "no score"
        return f"<span class='bad'>failed</span><small class='reason' title='{esc(reason)}'>{esc(reason)}</small>"
    category = f"<small>{esc(record.category or '')}</small>" if with_category else ""
    return f"<b>{num(record.score)}</b>{category}{_samples(record)}{_levels(record)}"


def _image_cell(item: Item, picture: Picture) -> str:
    record = item.first
    caption = f"{item.id} · region {record.meta.get('region') or DASH} · true {num(record.target)}"
    if picture.missing:
        return (f"<td><img class='thumb' src='{picture.thumb}' width='80' height='80' "
                f"alt='image not available: {esc(picture.missing)}' title='{esc(picture.missing)}'></td>")
    return (f"<td><img class='thumb' data-src='{picture.thumb}' data-full='{picture.full}' width='80' "
            f"height='80' alt='{esc(caption)}' title='click to enlarge'></td>")


def _explanation(record: Prediction) -> str:
    if record.score is None:
        return f"<div class='fail'>failed: {esc(record.error or 'no score')}</div>"
    return f"<div class='expl'>{esc(record.explanation or '')}</div>"


# ---- the detail shown on expand ----

def _example(run: ViewRun, example_id: str, pictures: Pictures) -> str:
    """An example the prompt showed: its thumbnail, its true score, and for error feedback the model's earlier
    score and error."""
    picture = pictures.picture(run, example_id, full=False)
    earlier = run.calibration.get(example_id)
    target = earlier.target if earlier is not None else pictures.target(run, example_id)
    lines = [f"true {num(target)}"]
    if earlier is not None:
        lines.append(f"model {num(earlier.score)} · error {num(error_of(earlier))}")
    return (f"<figure><img loading='lazy' src='{picture.thumb}' width='72' height='72' alt='{esc(example_id)}' "
            f"title='{esc(picture.missing or example_id)}'><figcaption>{esc(example_id)}<br>"
            f"{'<br>'.join(lines)}</figcaption></figure>")


def _facts(record: Prediction) -> str:
    usage = record.usage
    meta = {k: v for k, v in record.meta.items() if k != "region"}
    facts = [f"read from {record.read_from or DASH}", f"attempts {record.attempts}", f"re-asks {record.reasks}",
             f"latency {num(record.latency_s)} s",
             f"tokens {usage.get('prompt_tokens', DASH)} in / {usage.get('completion_tokens', DASH)} out",
             *([f"cost ${record.cost_usd:.5f}"] if record.cost_usd is not None else []),
             *(["cached answer"] if record.cached else []),
             *(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in meta.items())]
    return "<p class='facts'>" + " · ".join(esc(fact) for fact in facts) + "</p>"


def _answer(record: Prediction) -> str:
    """The whole answer: the explanation, or the failure's reason and the reply that could not be read."""
    if record.score is None:
        raw = record.raw
        reply = f"<pre>{esc(raw[:RAW_CHARS])}{'…' if len(raw) > RAW_CHARS else ''}</pre>" if raw else ""
        return f"<p class='fail'>failed: {esc(record.error or 'no score')}</p>{reply}"
    errors = [e for e in record.sample_errors or [] if e]
    levels = _level_samples(record)
    return (f"<p class='explanation'>{esc(record.explanation or '(no explanation)')}</p>"
            + "".join(f"<p class='fail'>sample failed: {esc(e)}</p>" for e in errors)
            + "".join(f"<p class='facts'>{f'sample {n}: ' if len(levels) > 1 else ''}P(level 0-4) "
                      f"{' '.join(f'{p:.3f}' for p in sample)}</p>" for n, sample in enumerate(levels, 1) if sample))


def detail(run: ViewRun, record: Prediction | None, pictures: Pictures, heading: str = "") -> str:
    """What one run said about an item in full, and the examples its prompt showed."""
    if record is None:
        return f"<div class='run'>{heading}<p>not in this run</p></div>"
    examples = record.example_ids
    shown = "".join(_example(run, example_id, pictures) for example_id in examples)
    title = f"<h4>the {len(examples)} example{'s' if len(examples) != 1 else ''} the prompt showed</h4>" if examples \
        else "<h4>no examples in the prompt</h4>"
    return (f"<div class='run'>{heading}{_answer(record)}{_facts(record)}{title}"
            f"<div class='examples'>{shown}</div></div>")


# ---- rows ----

def _attributes(item: Item, runs: list[ViewRun]) -> dict[str, Any]:
    """What the script sorts and filters the item by."""
    record = item.first
    errors = [error_of(r) for r in item.records]
    scores = [r.score for r in item.records if r is not None and r.score is not None]
    values: dict[str, Any] = {"id": item.id, "true": float(record.target), "region": record.meta.get("region") or "",
                              "band": band_of(float(record.target)) or "",
                              "failed": int(any(r is not None and r.score is None for r in item.records))}
    if len(runs) == 1:
        return {**values, "err": errors[0], "pred": record.score}
    known = [e for e in errors if e is not None]
    values.update(worst=max(known) if known else None, spread=max(scores) - min(scores) if len(scores) > 1 else None)
    for k, (r, e) in enumerate(zip(item.records, errors)):
        values[f"err{k}"], values[f"pred{k}"] = e, None if r is None else r.score
        if k:
            values[f"diff{k}"] = None if e is None or errors[0] is None else e - errors[0]
    return values


def item_body(item: Item, runs: list[ViewRun], pictures: Pictures) -> str:
    """The item's <tbody>: the row, then its detail (kept in a template until the row is opened)."""
    attributes = _attributes(item, runs)
    data = " ".join(f"data-{key}='{sort_value(value)}'" for key, value in attributes.items())
    owner = next(run for run, record in zip(runs, item.records) if record is not None)
    record = item.first
    cells = [_image_cell(item, pictures.picture(owner, item.id, full=True)),
             f"<td class='id'><span class='caret'>▸</span>{esc(item.id)}</td>",
             f"<td>{esc(record.meta.get('region') or DASH)}</td>",
             f"<td class='num'>{num(record.target)}</td>"]
    if len(runs) == 1:
        cells += [f"<td class='pred'>{prediction(record)}</td>", f"<td class='num'>{num(error_of(record))}</td>",
                  f"<td>{esc(record.category or DASH)}</td>", f"<td>{_explanation(record)}</td>"]
        details = detail(runs[0], record, pictures)
    else:
        for k, r in enumerate(item.records):
            cells += [f"<td class='pred first'>{prediction(r, with_category=True)}</td>",
                      f"<td class='num'>{num(attributes[f'err{k}'])}</td>"]
            if k:
                diff = attributes[f"diff{k}"]
                tone = "" if diff is None or abs(diff) < 0.05 else (" worse" if diff > 0 else " better")
                cells.append(f"<td class='num{tone}'>{signed(diff)}</td>")
            if len(runs) <= EXPLAINED_RUNS:
                cells.append(f"<td>{_explanation(r) if r is not None else ''}</td>")
        cells.append(f"<td class='num first'>{num(attributes['spread'])}</td>")
        details = "".join(detail(run, r, pictures, f"<h3><span class='label'>{run.label}</span> "
                                                    f"{esc(run.results.model)} "
                                                    f"<small>{esc(setting_text(run.results))}</small></h3>")
                          for run, r in zip(runs, item.records))
    return (f"<tbody id='{item.anchor}' class='item' {data}><tr class='main'>{''.join(cells)}</tr>"
            f"<template><tr class='detail'><td colspan='{len(cells)}'><div class='details'>{details}</div></td></tr>"
            "</template></tbody>")


def header(runs: list[ViewRun]) -> tuple[str, str]:
    """The table's <colgroup> and <thead>; one column group per run in a page of several."""
    columns: list[tuple[str, int | None, str | None]] = [("", 92, None), ("id", 150, "id"), ("region", 84, None),
                                                         ("true", 58, "true")]
    groups = ""
    if len(runs) == 1:
        columns += [("prediction", 120, "pred"), ("|error|", 66, "err"), ("category", 82, None),
                    ("explanation (open the row for all of it)", None, None)]
    else:
        explained = len(runs) <= EXPLAINED_RUNS
        groups = "<tr class='groups'><th colspan='4'></th>" + "".join(
            f"<th colspan='{2 + (k > 0) + explained}' class='first'><span class='label'>{run.label}</span> "
            f"{esc(run.results.model)} <small>{esc(setting_text(run.results))}</small></th>"
            for k, run in enumerate(runs)) + "<th class='first'>runs</th></tr>"
        for k, run in enumerate(runs):
            columns += [("prediction", 112, f"pred{k}"), ("|error|", 62, f"err{k}")]
            columns += [(f"{run.label} - A", 66, f"diff{k}")] if k else []
            columns += [("explanation", None, None)] if explained else []
        columns.append(("spread", 68, "spread"))
    colgroup = "<colgroup>" + "".join(f"<col style='width:{w}px'>" if w else "<col>" for _, w, _ in columns) + \
        "</colgroup>"
    heads = "".join(f"<th{f' data-key={key}' if key else ''}>{esc(name)}</th>" for name, _, key in columns)
    return colgroup, f"<thead>{groups}<tr>{heads}</tr></thead>"
