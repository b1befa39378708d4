"""`prepare`: a raw challenge release (TIFFs + one JSON of scores) -> a `datasets` DatasetDict on disk."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import datasets

from ..errors import UserError
from ..scale import CATEGORIES, category_of

TIFF_SUFFIXES = (".tif", ".tiff")


def features(extra: dict[str, datasets.Value] | None = None) -> datasets.Features:
    return datasets.Features({
        "id": datasets.Value("string"),
        "image": datasets.Image(),
        "score": datasets.Value("float32"),
        "category": datasets.ClassLabel(names=CATEGORIES),
        **(extra or {}),
    })


@dataclass(frozen=True)
class SplitSource:
    """One split of a raw release: image files by name and their scores."""

    images: dict[str, Path]
    scores: dict[str, float]

    @classmethod
    def from_folder(cls, root: Path) -> "SplitSource":
        if not root.is_dir():
            raise UserError(f"release folder {root} does not exist; pass the unpacked folder (or .zip)")
        labels = sorted(root.rglob("*.json"))
        if len(labels) != 1:
            found = ", ".join(str(p) for p in labels[:3]) or "none"
            raise UserError(f"{root}: expected exactly one JSON file of scores, found {len(labels)} ({found})")
        scores = json.loads(labels[0].read_text())
        images = {p.name: p for p in sorted(root.rglob("*")) if p.suffix.lower() in TIFF_SUFFIXES}
        return cls(images=images, scores={k: float(v) for k, v in scores.items()})

    def rows(self, extra: dict[str, dict[str, object]]) -> Iterator[dict]:
        for name in sorted(self.scores):
            score = self.scores[name]
            yield {"id": name, "image": {"bytes": self.images[name].read_bytes(), "path": None},
                   "score": score, "category": category_of(score),
                   **{column: values[name] for column, values in extra.items()}}


def prepare(train: Path, test: Path, out: Path, extra: dict[str, dict[str, object]] | None = None) -> Path:
    """Build and save the dataset; written to a temporary folder and renamed, so never half-complete."""
    extra = extra or {}
    sources = {"train": SplitSource.from_folder(Path(train)), "test": SplitSource.from_folder(Path(test))}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    feats = features({column: datasets.Value("string") for column in extra})
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.tmp") as tmp:
        splits = {
            split: datasets.Dataset.from_generator(
                source.rows, gen_kwargs={"extra": extra}, features=feats, cache_dir=str(Path(tmp) / "cache"))
            for split, source in sources.items()
        }
        staged = Path(tmp) / "dataset"
        datasets.DatasetDict(splits).save_to_disk(str(staged))
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    return out
