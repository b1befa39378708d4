"""What one split of a raw release holds: its images, its one JSON of scores, and what is wrong with them.

Everything here is checked from names and the JSON alone, before any pixel is read, so a broken
release fails in seconds. Pixel checks happen while the dataset is written (`release.py`).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ldct_bench.data.archive import Archive
from ldct_bench.data.scale import MAX_SCORE, MIN_SCORE
from ldct_bench.errors import UserError

TIFF_SUFFIXES = (".tif", ".tiff")
# Documentation shipped beside the data; every other file must be a TIFF or the one JSON.
DOC_SUFFIXES = ("", ".md", ".txt", ".rst", ".pdf", ".html")
PREVIEW = 3


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Problems:
    """Offending files grouped by kind, raised as one line naming the first few of each and a count."""

    def __init__(self, where: str):
        self.where = where
        self._found: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(self, noun: str, what: str, item: str) -> None:
        self._found[(noun, what)].append(item)

    def __bool__(self) -> bool:
        return bool(self._found)

    def describe(self) -> str:
        parts = []
        for (noun, what), items in self._found.items():
            more = f" and {len(items) - PREVIEW} more" if len(items) > PREVIEW else ""
            parts.append(f"{plural(len(items), noun)} {what}: {', '.join(items[:PREVIEW])}{more}")
        return f"{self.where}: {'; '.join(parts)}"


def raise_problems(groups: list[Problems]) -> None:
    """One line for everything found, in every split; nothing has been written when this raises."""
    found = [group.describe() for group in groups if group]
    if found:
        raise UserError(f"{'; '.join(found)}. Fix the release and run prepare again (nothing was written)")


@dataclass(frozen=True)
class Entry:
    """One image file and its score, or an image stack and one score per slice."""

    path: str
    scores: tuple[float, ...]
    stacked: bool

    @property
    def ids(self) -> list[str]:
        """Dataset ids: the file name, or `<stem>_<slice>.tiff` for each slice of a stack."""
        name = PurePosixPath(self.path)
        if not self.stacked:
            return [name.name]
        return [f"{name.stem}_{index:03d}.tiff" for index in range(len(self.scores))]


@dataclass(frozen=True)
class SplitSource:
    """A checked split: its archive and entries sorted by file name."""

    split: str
    archive: Archive
    label_file: str
    entries: list[Entry]

    @property
    def size(self) -> int:
        return sum(len(entry.scores) for entry in self.entries)


def _valid_score(value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and MIN_SCORE <= value <= MAX_SCORE


def _read_labels(archive: Archive, label_file: str, problems: Problems) -> Any:
    """The parsed JSON; names repeated inside the object are reported, not silently overwritten."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                problems.add("name", f"listed twice in {label_file}", key)
            seen[key] = value
        return seen

    try:
        return json.loads(archive.read(label_file).decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{problems.where}: {label_file} is not valid JSON ({exc}); it must map each image "
                        "file name to its score, e.g. {\"0000.tif\": 2.8}") from None


def _as_mapping(labels: Any, label_file: str, images: dict[str, list[str]], where: str) -> dict[str, Any]:
    """Scores by file name; a bare list of scores belongs to the split's single image stack."""
    if isinstance(labels, dict):
        return labels
    if isinstance(labels, list) and len(images) == 1:
        return {next(iter(images)): labels}
    raise UserError(f"{where}: {label_file} must be a JSON object mapping image file name to score "
                    "(or to a list of per-slice scores for an image stack)")


def scan(archive: Archive, split: str) -> SplitSource:
    """Match the split's images to its scores; every structural problem is reported together."""
    where = f"{split} release {archive.location}"
    labels = [p for p in archive.paths if PurePosixPath(p).suffix.lower() == ".json"]
    if len(labels) != 1:
        found = f" ({', '.join(labels[:PREVIEW])}{' ...' if len(labels) > PREVIEW else ''})" if labels else ""
        raise UserError(f"{where}: expected exactly one JSON file of scores (such as {split}.json), "
                        f"found {len(labels)}{found}; pass the folder or .zip of one split")
    label_file = labels[0]
    problems = Problems(where)
    images: dict[str, list[str]] = defaultdict(list)
    for path in archive.paths:
        suffix = PurePosixPath(path).suffix.lower()
        if suffix in TIFF_SUFFIXES:
            images[PurePosixPath(path).name].append(path)
        elif path != label_file and suffix not in DOC_SUFFIXES:
            problems.add("file", "neither a TIFF image (.tif/.tiff) nor the JSON of scores", path)
    for paths in images.values():
        if len(paths) > 1:
            problems.add("file name", "found in several subfolders", " and ".join(paths))
    scores = _as_mapping(_read_labels(archive, label_file, problems), label_file, images, where)
    if not scores:
        raise UserError(f"{where}: {label_file} holds no scores ({plural(len(images), 'TIFF image')} found); it must "
                        "map each image file name to its score, e.g. {\"0000.tif\": 2.8} (nothing was written)")
    for name in sorted(set(images) - set(scores)):
        problems.add("image", f"without a score in {label_file}", images[name][0])
    for name in sorted(set(scores) - set(images)):
        problems.add("score", f"in {label_file} without an image", name)
    for name, value in scores.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(_valid_score(v) for v in values):
            problems.add("score", f"in {label_file} outside [{MIN_SCORE:g}, {MAX_SCORE:g}] or not a number",
                         f"{name}={json.dumps(value)[:40]}")
    raise_problems([problems])
    entries = [Entry(images[name][0], tuple(float(v) for v in (value if isinstance(value, list) else [value])),
                     isinstance(value, list)) for name, value in sorted(scores.items())]
    return SplitSource(split, archive, label_file, entries)
