"""`ldct-bench score FILE task=... --name NAME`: predictions made elsewhere, scored and written as a run dir.

A challenge entry, a CNN or the paper's released answers get the same predictions.jsonl, results.json
(metrics, intervals, coverage) and plots as a run of this harness, so the leaderboard and W&B show them
beside the LMM runs. Three formats are read: a CSV of `id,score` (a header row is optional), a JSON
object mapping id to score, and the paper's text lines `"test000.tif": 2.7, Good` (a title line before
them, as in the paper's files, is skipped with a note). Ids match the test split whatever their folder,
case or .tif/.tiff ending; an id the split lacks, or one given twice, stops the command before anything
is written. Test items the file leaves out count as failures ("missing"), so a partial file is scored
with its coverage.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, OmegaConf

from ldct_bench.config.identity import EXTERNAL
from ldct_bench.data.scale import CATEGORIES, category_of
from ldct_bench.data.source import Problems
from ldct_bench.errors import UserError
from ldct_bench.paths import write_atomic
from ldct_bench.run.records import Prediction
from ldct_bench.run.rundir import PREDICTIONS

if TYPE_CHECKING:
    from ldct_bench.data.task import Item

# `"test000.tif": 2.7, Good` (the category and a trailing comma are optional)
_TEXT_LINE = re.compile(r'^\s*"([^"]+)"\s*:\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:,\s*([A-Za-z]+))?\s*,?\s*$')
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_IMAGE_NAME = re.compile(r"\.tiff?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One prediction as the file gives it."""

    id: str
    score: float
    category: str | None
    where: str  # "line 4", for messages


def match_key(item_id: str) -> str:
    """`LDCTIQAC_test/Test000.TIFF`, `test000.tif` and `test000` are one image."""
    name = PurePosixPath(item_id.strip().replace("\\", "/")).name.lower()
    return re.sub(r"\.tiff?$", "", name)


def _number(text: Any) -> float | None:
    if isinstance(text, bool):
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _first_three(items: list[str], sep: str = ", ") -> str:
    """`a, b, c and 4 more`: enough of a list to find the problem, in one line."""
    return sep.join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def _bad_values(path: Path, bad: list[str]) -> UserError:
    return UserError(f"{path}: {len(bad)} scores are not finite numbers ({_first_three(bad)}); "
                     "give every id one number")


def _from_json(path: Path, data: Any) -> list[Entry]:
    if not isinstance(data, dict):
        raise UserError(f"{path}: a JSON file must be one object mapping each id to its score, "
                        '{"test000.tiff": 2.7, ...}')
    entries, bad = [], []
    for key, value in data.items():
        score = _number(value)
        if score is None:
            bad.append(f"{key}: {value!r}")
        else:
            entries.append(Entry(str(key), score, None, key))
    if bad:
        raise _bad_values(path, bad)
    return entries


def _titles(lines: list[str]) -> dict[int, str]:
    """Lines before the first prediction, by number: the paper's files open with a title (`EF-O3 Results`).
    A line there naming an image file is a broken prediction, not a title."""
    first = next(number for number, line in enumerate(lines) if _TEXT_LINE.match(line))
    return {number: line.strip() for number, line in enumerate(lines[:first], 1)
            if line.strip() not in ("", "{") and not _IMAGE_NAME.search(line)}


def _from_text(path: Path, lines: list[str]) -> list[Entry]:
    entries, unreadable = [], []
    titles = _titles(lines)
    for number, line in enumerate(lines, 1):
        if line.strip() in ("", "{", "}") or number in titles:
            continue
        found = _TEXT_LINE.match(line)
        if found is None:
            unreadable.append(str(number))
            continue
        entries.append(Entry(found.group(1), float(found.group(2)), found.group(3), f"line {number}"))
    if unreadable:
        which = f"lines {_first_three(unreadable)} are" if len(unreadable) > 1 else f"line {unreadable[0]} is"
        raise UserError(f'{path}: {which} not `"ID": SCORE[, CATEGORY]`; '
                        "give a CSV of id,score, a JSON object id -> score, or lines like "
                        '"test000.tif": 2.7, Good')
    if titles:
        shown = _first_three([f"line {number} {text[:60]!r}" for number, text in titles.items()], "; ")
        print(f"ldct-bench: note: {path}: skipped {shown} before the first prediction", file=sys.stderr)
    return entries


def _from_csv(path: Path, text: str) -> list[Entry]:
    rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text)), 1)
            if any(cell.strip() for cell in row)]
    first = rows[0][1] if rows else []
    if first and _number(first[1] if len(first) > 1 else None) is None:  # a header row
        header = [cell.strip().lower() for cell in rows.pop(0)[1]]
        if "id" not in header or "score" not in header:
            raise UserError(f"{path}: the CSV header must name an `id` and a `score` column (found: "
                            f"{', '.join(header)})")
        at_id, at_score = header.index("id"), header.index("score")
    else:
        at_id, at_score = 0, 1
    entries, bad = [], []
    for number, row in rows:
        cells = row + [""] * (max(at_id, at_score) + 1 - len(row))
        score = _number(cells[at_score])
        if score is None:
            bad.append(f"line {number}: {cells[at_score]!r}")
        else:
            entries.append(Entry(cells[at_id].strip(), score, None, f"line {number}"))
    if bad:
        raise _bad_values(path, bad)
    return entries


def read_entries(path: Path) -> list[Entry]:
    """Predictions in whichever of the three formats the file holds, in file order."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path} ({exc.__class__.__name__}); give a text file of predictions") from None
    if text.lstrip()[:1] in ("{", "["):
        try:
            return _from_json(path, json.loads(text))
        except json.JSONDecodeError:
            pass  # the paper's lines may sit in braces without being JSON
    lines = text.splitlines()
    if any(_TEXT_LINE.match(line) for line in lines):
        entries = _from_text(path, lines)
    else:
        entries = _from_csv(path, text)
    if not entries:
        raise UserError(f"{path} holds no predictions; give a CSV of id,score, a JSON object id -> score, or "
                        'lines like "test000.tif": 2.7, Good')
    return entries


def match_entries(path: Path, entries: list[Entry], item_ids: list[str], task: str) -> dict[str, Entry]:
    """Each entry's test item, by match_key; refuses ids the split lacks and items given more than once."""
    by_key = {match_key(item_id): item_id for item_id in item_ids}
    matched: dict[str, list[Entry]] = {}
    problems = Problems(str(path))
    for entry in entries:
        item_id = by_key.get(match_key(entry.id))
        if item_id is None:
            problems.add("id", f"not in the test split of task {task}", entry.id)
        else:
            matched.setdefault(item_id, []).append(entry)
    for item_id, given in matched.items():
        if len(given) > 1:
            problems.add("test image", "given more than once", f"{item_id} ({', '.join(e.where for e in given)})")
    if problems:
        raise UserError(f"{problems.describe()}. Fix the file (each test image once, ids as in the task's test "
                        "split) and score it again; nothing was written")
    return {item_id: given[0] for item_id, given in matched.items()}


def records(items: list[Item], matched: dict[str, Entry], path: Path) -> list[Prediction]:
    """Journal lines, the same record a run writes: every test item, the ones the file leaves out as failures."""
    out = []
    for item in items:
        entry = matched.get(item.id)
        if entry is None:
            out.append(Prediction.failure(item, f"missing: not in {path.name}"))
            continue
        given = (entry.category or "").capitalize()
        category = given if given in CATEGORIES else CATEGORIES[category_of(entry.score)]
        out.append(Prediction(id=item.id, target=item.target, score=entry.score, category=category, read_from="file",
                              category_disagrees=category != CATEGORIES[category_of(entry.score)],
                              meta={k: v for k, v in item.meta.items() if v is not None}))
    return out


def external_config(cfg: DictConfig, name: str, path: Path) -> DictConfig:
    """The composed config with the model replaced by what made the file (no card, no prompt)."""
    plain = OmegaConf.create(cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)))
    plain.model = {"name": name, "backend": EXTERNAL, "description": f"predictions read from {path}"}
    plain.strategy = {"name": EXTERNAL, "selection": None, "default_shots": 0}
    plain.metadata = {"name": "-", "noise": False, "region": False}
    plain.shots = None
    return plain


def run(args: argparse.Namespace) -> None:
    """Read, match, score and write the run dir; print the run's table and where it went."""
    from ldct_bench.config.compose import compose_jobs
    from ldct_bench.data.task import load_task
    from ldct_bench.report import log_run
    from ldct_bench.report.summary import format_table
    from ldct_bench.run.results import summarize, write_results

    started = time.monotonic()
    if not _NAME.fullmatch(args.name):
        raise UserError(f"--name {args.name!r}: use letters, digits and . _ + - (it names the run dir)")
    path = Path(args.file).expanduser()
    if not path.is_file():
        raise UserError(f"no such file: {path}; give the predictions file to score")
    entries = read_entries(path)
    jobs = compose_jobs(args.overrides)
    if len(jobs) != 1:
        raise UserError(f"score takes one task and one setting; the overrides make {len(jobs)} jobs")
    task = load_task(jobs[0].task)
    items = task.items("test")
    matched = match_entries(path, entries, [item.id for item in items], task.card.name)
    cfg = external_config(jobs[0], args.name, path)
    lines = records(items, matched, path)
    digest = hashlib.sha256(path.read_bytes() + task.fingerprint.encode()).hexdigest()[:16]
    results = summarize(cfg, lines, len(items), digest=digest, requests=0, spent=0.0,
                        seconds=time.monotonic() - started, stopped_by_budget=False)
    results.source_file = str(path.resolve())
    run_dir = Path(args.out).expanduser() if args.out else Path("outputs") / task.card.name / args.name / EXTERNAL
    write_atomic(run_dir / PREDICTIONS, "".join(json.dumps(line.to_json()) + "\n" for line in lines))
    write_results(run_dir, results)
    log_run(cfg, run_dir, results)
    print(format_table(results))
    print(f"run dir: {run_dir}")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("score", help="score predictions made elsewhere against a task's test split",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("file", metavar="FILE",
                        help="CSV id,score; JSON {id: score}; or lines \"test000.tif\": 2.7, Good")
    parser.add_argument("overrides", nargs="*", help="the task and any settings, e.g. task=ldct_iqa task.path=DIR "
                                                     "logger=wandb")
    parser.add_argument("--name", required=True, help="what made the predictions; names the run (e.g. my-cnn)")
    parser.add_argument("--out", metavar="DIR", help="the run dir (default: outputs/<task>/<name>/external)")
    parser.set_defaults(func=run)
