"""The pictures a page shows, as files beside it: each test image the model saw as a small thumbnail and as
its full rendering (the exact PNG bytes the model was sent), each example image as a thumbnail.

Files are named by the content of the rendering, so runs on the same data share them and a rebuilt page
rewrites nothing. Data that cannot be opened costs the pictures, never the page: a placeholder stands in
and one line on stderr says why.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from omegaconf import OmegaConf
from PIL import Image, ImageDraw

from ldct_bench.config.schema import TaskCard
from ldct_bench.data.task import Task, load_task
from ldct_bench.errors import UserError, first_line
from ldct_bench.paths import write_atomic
from ldct_bench.view.runs import ViewRun

THUMBS, FULL = "thumbs", "images"
THUMB_PX = 96  # shown at 80 px in a row and 72 px among the examples
UNAVAILABLE = f"{THUMBS}/unavailable.png"
_OURS = re.compile(rf"[0-9a-f]{{20}}(-{THUMB_PX})?\.png|unavailable\.png")


@dataclass(frozen=True)
class Picture:
    """Paths relative to the page: the thumbnail, and the full rendering the enlarged view shows (if any)."""

    thumb: str
    full: str | None = None
    missing: str | None = None  # why the image is not shown


class Pictures:
    """Writes thumbnails and renderings into `out` (the page's folder) as rows ask for them."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self._keys: dict[Path, str] = {}  # run dir -> its task card as text: runs on one card share its data
        self._tasks: dict[str, Task | None] = {}
        self._why: dict[str, str] = {}
        self._targets: dict[str, dict[str, float]] = {}
        self._made: dict[tuple[str, str, bool], Picture] = {}
        self._written: set[str] = set()

    def _task(self, run: ViewRun) -> tuple[str, Task | None]:
        """The run's data, opened once per card; when it will not open, one note on stderr and None."""
        if run.dir not in self._keys:
            self._keys[run.dir] = "" if run.card is None else OmegaConf.to_yaml(run.card)
        key = self._keys[run.dir]
        if key not in self._tasks:
            try:
                if run.card is None:
                    raise UserError("no task card: neither a .hydra/config.yaml nor a card of its task's name")
                self._tasks[key] = load_task(cast(TaskCard, OmegaConf.merge(OmegaConf.structured(TaskCard), run.card)))
            except UserError as exc:
                self._tasks[key], self._why[key] = None, str(exc)
            except Exception as exc:  # noqa: BLE001 - any reason the data will not open costs only the images
                self._tasks[key], self._why[key] = None, first_line(exc, typed=True)
            if self._tasks[key] is None:
                print(f"ldct-bench view: images of run {run.dir} shown as placeholders: {self._why[key]}",
                      file=sys.stderr)
        return key, self._tasks[key]

    def picture(self, run: ViewRun, item_id: str, full: bool) -> Picture:
        """The image's thumbnail (and, with `full`, its full rendering), or the placeholder with the reason."""
        key, task = self._task(run)
        made = (key, item_id, full)
        if made not in self._made:
            self._made[made] = self._placeholder(self._why[key]) if task is None else self._write(task, item_id, full)
        return self._made[made]

    def target(self, run: ViewRun, item_id: str) -> float | None:
        """An image's true score from the data (what a few-shot prompt showed with an example), if known."""
        key, task = self._task(run)
        if task is None:
            return None
        if key not in self._targets:
            self._targets[key] = {item.id: item.target for split in ("train", "test") for item in task.items(split)}
        return self._targets[key].get(item_id)

    def _write(self, task: Task, item_id: str, full: bool) -> Picture:
        try:
            png = task.png(item_id)
        except KeyError:
            return self._placeholder(f"{item_id} is not in the data of task {task.card.name}")
        except OSError as exc:
            return self._placeholder(first_line(exc, typed=True))
        name = hashlib.sha256(png).hexdigest()[:20]
        thumb = self._save(f"{THUMBS}/{name}-{THUMB_PX}.png", lambda: _thumbnail(png))
        return Picture(thumb, self._save(f"{FULL}/{name}.png", lambda: png) if full else None)

    def _placeholder(self, why: str) -> Picture:
        return Picture(self._save(UNAVAILABLE, _placeholder_png), None, why)

    def _save(self, relative: str, make: Callable[[], bytes]) -> str:
        if relative not in self._written:
            path = self.out / relative
            if not path.exists():
                write_atomic(path, make())
            self._written.add(relative)
        return relative

    def remove_stale(self) -> None:
        """Pictures an earlier build of this page left that this one does not show (only files named the way
        this module names them: a folder given as --out may hold other pictures)."""
        for folder in (THUMBS, FULL):
            for path in (self.out / folder).glob("*.png"):
                if _OURS.fullmatch(path.name) and f"{folder}/{path.name}" not in self._written:
                    path.unlink(missing_ok=True)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _thumbnail(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        image.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
        return _png(image)


def _placeholder_png() -> bytes:
    image = Image.new("L", (THUMB_PX, THUMB_PX), 235)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, THUMB_PX - 1, THUMB_PX - 1), outline=170)
    draw.multiline_text((THUMB_PX / 2, THUMB_PX / 2), "image not\navailable", fill=90, anchor="mm", align="center")
    return _png(image)
