"""A task: the card's dataset as items (train = shot pool, test = what is scored), pixels and PNGs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from filelock import FileLock
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from ldct_bench.config.schema import TaskCard
from ldct_bench.data.dataset_card import SYNTHETIC_DEMO
from ldct_bench.data.release import prepare
from ldct_bench.data.render import to_png
from ldct_bench.errors import UserError, first_line
from ldct_bench.paths import data_dir, write_atomic

RENDER_VERSION = 2  # of the rendered-PNG store: bump when render.to_png's output changes (2: zlib RLE)
_SAFE_NAME = re.compile(r"[A-Za-z0-9][\w.\-]{0,120}")


@dataclass(frozen=True)
class Item:
    """One image with its label; `meta` holds per-image columns such as region and noise."""

    id: str
    split: str
    target: float
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


class Task:
    """Items and pixels of one dataset, rendered the way the card says."""

    def __init__(self, card: TaskCard, data: datasets.DatasetDict, store: Path):
        self.card = card
        self.store = Path(store)
        self._splits = {"train": data[card.train_split], "test": data[card.test_split]}
        self._where: dict[str, tuple[str, int]] = {}
        for split, table in self._splits.items():
            for row, item_id in enumerate(table["id"]):
                self._where[item_id] = (split, row)
        self._items = {split: self._read_items(split) for split in self._splits}
        self.png = lru_cache(maxsize=64)(self._png)
        # Each image is rendered and encoded once per run and the same string shared by every request that
        # shows it (few-shot examples repeat across items); the response cache hashes each string once.
        self._urls: dict[str, str] = {}
        self._url_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _read_items(self, split: str) -> list[Item]:
        table = self._splits[split]
        wanted = self.card.train_ids if split == "train" else self.card.test_ids
        meta_columns = [c for c in table.column_names if c not in ("id", "image", "score", "category")]
        columns = {c: table[c] for c in meta_columns}
        items = [Item(item_id, split, round(float(score), 6), {c: columns[c][row] for c in meta_columns})
                 for row, (item_id, score) in enumerate(zip(table["id"], table["score"]))]
        if wanted is not None:
            known = {item.id: item for item in items}
            unknown = [i for i in wanted if i not in known]
            if unknown:
                raise UserError(f"task {self.card.name}: {split}_ids not in the data: {', '.join(unknown[:3])}")
            items = [known[i] for i in wanted]
        return items

    @property
    def fingerprint(self) -> str:
        return "-".join(table._fingerprint for table in self._splits.values())

    def items(self, split: str) -> list[Item]:
        return self._items[split]

    def pixels(self, item_id: str) -> np.ndarray:
        split, row = self._where[item_id]
        return np.asarray(self._splits[split][row]["image"], dtype=np.float32)

    @property
    def rendered_dir(self) -> Path:
        """Where this data's PNGs, rendered the card's way, are kept between runs."""
        card = self.card
        way = f"w{card.window_width:g}-l{card.window_level:g}-s{card.image_size or 'native'}-v{RENDER_VERSION}"
        return self.store / "rendered" / self.fingerprint / way

    def _png(self, item_id: str) -> bytes:
        """The image as the model sees it. Rendering is most of the CPU a request costs, and every run on this
        data renders the same pictures, so each is kept in the store once made (a sweep renders nothing twice)."""
        name = item_id if _SAFE_NAME.fullmatch(item_id) else hashlib.sha256(item_id.encode()).hexdigest()
        path = self.rendered_dir / f"{name}.png"
        try:
            return path.read_bytes()
        except OSError:
            pass
        card = self.card
        png = to_png(self.pixels(item_id), card.window_width, card.window_level, card.image_size)
        try:
            write_atomic(path, png)
        except OSError:  # a store that cannot be written only costs speed
            pass
        return png

    def image_url(self, item_id: str) -> str:
        """The image as a PNG data URL, made once per image even when request-building threads ask at once."""
        url = self._urls.get(item_id)
        if url is None:
            with self._locks_lock:
                lock = self._url_locks.setdefault(item_id, threading.Lock())
            with lock:
                url = self._urls.get(item_id)
                if url is None:
                    png = self.png(item_id)
                    url = self._urls[item_id] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return url

    def column(self, name: str, compute: Callable[[np.ndarray], Any], version: int = 0) -> dict[str, Any]:
        """A per-image value for every item, computed once and cached by data fingerprint and `version`."""
        split_values = {v for split in self._items.values() for item in split for v in [item.meta.get(name)]}
        if None not in split_values:
            return {item.id: item.meta[name] for split in self._items.values() for item in split}
        path = self.store / "columns" / self.fingerprint / f"{name}-v{version}.json"
        values: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        missing = [i for i in self._where if i not in values]
        for item_id in tqdm(missing, desc=f"computing {name}", unit="img", disable=not missing, leave=False):
            values[item_id] = compute(self.pixels(item_id))
        if missing:
            write_atomic(path, json.dumps(values))
        for split in self._items.values():
            for item in split:
                item.meta[name] = values[item.id]
        return values


def _demo_dataset(store: Path) -> Path:
    """Build the synthetic demo once (challenge layout, then the same `prepare` as real data)."""
    from ldct_bench.data import demo  # scipy.ndimage: imported only when the demo task is opened

    root = store / f"demo-v{demo.GENERATOR_VERSION}"
    out = root / "dataset"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".lock")):
        if not (out / "dataset_dict.json").exists():
            with tempfile.TemporaryDirectory(dir=root) as tmp:
                train, test = demo.write_release(Path(tmp))
                regions = json.loads((Path(tmp) / "regions.json").read_text())
                prepare(train, test, out, extra={"region": regions}, about=SYNTHETIC_DEMO)
    return out


def _no_data(card: TaskCard) -> UserError:
    where = " or ".join(["task.path=DIR", *([f"{card.path_env}=DIR"] if card.path_env else []), "task.hub_id=ORG/NAME"])
    steps = card.download_hint or "prepare it with `ldct-bench prepare --train PATH --test PATH --out DIR`"
    return UserError(f"task {card.name} has no data: {steps}; then set {where}")


def _open_local(card: TaskCard, path: Path, given_by: str) -> datasets.DatasetDict:
    """A folder written by `ldct-bench prepare` (save_to_disk), or a local copy of a Hub dataset (parquet)."""
    if not path.exists():
        raise UserError(f"task {card.name}: {given_by}={path} does not exist; point it at the folder written by "
                        "`ldct-bench prepare --out DIR`")
    if (path / "dataset_dict.json").is_file():
        return datasets.load_from_disk(str(path))
    if path.is_dir() and next(path.rglob("*.parquet"), None) is not None:
        return datasets.load_dataset(str(path))
    raise UserError(f"task {card.name}: {given_by}={path} is not a prepared dataset (no dataset_dict.json); if it "
                    "is the downloaded release, prepare it first: "
                    "`ldct-bench prepare --train PATH --test PATH --out DIR`")


def _open_hub(card: TaskCard) -> datasets.DatasetDict:
    try:
        return datasets.load_dataset(card.hub_id)
    except Exception as exc:  # noqa: BLE001 - the Hub client raises many types; the advice is the same
        raise UserError(f"task {card.name}: cannot load task.hub_id={card.hub_id} ({first_line(exc, typed=True)}); "
                        "check the id, "
                        "your token for a private repo (`hf auth login`) and the network (HF_HUB_OFFLINE)") from None


def _open(card: TaskCard, store: Path) -> datasets.DatasetDict:
    """The card's data: the built demo; else task.path, its environment variable, then task.hub_id."""
    if card.source == "demo":
        return datasets.load_from_disk(str(_demo_dataset(store)))
    env_value = os.environ.get(card.path_env) if card.path_env else None
    if card.path:
        return _open_local(card, Path(card.path).expanduser(), "task.path")
    if env_value:
        return _open_local(card, Path(env_value).expanduser(), str(card.path_env))
    if card.hub_id:
        return _open_hub(card)
    raise _no_data(card)


# The columns every task reads, by type; any other column is per-image metadata (region, noise ...).
_COLUMNS = {"id": "string", "image": "Image", "score": "number"}


def _type_name(feature: Any) -> str:
    if isinstance(feature, datasets.Value):
        dtype = feature.dtype
        if dtype in ("string", "large_string"):
            return "string"
        return "number" if dtype.startswith(("int", "uint", "float")) else dtype
    return type(feature).__name__ if feature is not None else "missing"


def _check_columns(card: TaskCard, data: datasets.DatasetDict) -> None:
    """A dataset saved by something other than `prepare` fails here in one line, not deep inside a run."""
    expected = ", ".join(f"{name} ({kind})" for name, kind in _COLUMNS.items())
    for split in (card.train_split, card.test_split):
        features = data[split].features
        if any(_type_name(features.get(name)) != kind for name, kind in _COLUMNS.items()):
            found = ", ".join(f"{name} ({_type_name(feature)})" for name, feature in features.items()) or "none"
            raise UserError(f"task {card.name}: the '{split}' split has columns {found}; expected {expected}; "
                            "build the dataset with `ldct-bench prepare --train PATH --test PATH --out DIR`")


def require_train(task: Task, needs: str) -> None:
    """Examples and fits come from the train split: an empty one stops the run at once, in one line."""
    if not task.items("train"):
        raise UserError(f"task {task.card.name}: the train split '{task.card.train_split}' is empty, and {needs} "
                        "needs training examples from it; use a dataset with training images, or strategy=zero_shot")


def load_task(card: TaskCard, store: Path | None = None) -> Task:
    """Open the card's dataset (built demo, a prepared folder, or a Hub id); `store` keeps derived data."""
    store = Path(store) if store is not None else data_dir()
    try:
        data = _open(card, store)
    except (FileNotFoundError, ValueError, OSError, IndexError) as exc:
        raise UserError(f"task {card.name}: cannot load its dataset ({first_line(exc, typed=True)}); "
                        "re-run `ldct-bench prepare`") from None
    if not isinstance(data, datasets.DatasetDict) or {card.train_split, card.test_split} - set(data):
        raise UserError(f"task {card.name}: dataset needs splits '{card.train_split}' and '{card.test_split}'")
    _check_columns(card, data)
    return Task(card, data, store)


class TaskStore:
    """Tasks opened in this process, by card: the points of a sweep on one task share its data and its rendered
    images (a few hundred kilobytes of base64 each), instead of holding a copy per point."""

    def __init__(self, store: Path | None = None):
        self.store = store
        self._open: dict[str, Task] = {}

    def load(self, card: TaskCard) -> Task:
        key = json.dumps(OmegaConf.to_container(card, resolve=True, enum_to_str=True)
                         if OmegaConf.is_config(card) else card, sort_keys=True, default=str)
        if key not in self._open:
            self._open[key] = load_task(card, self.store)
        return self._open[key]
