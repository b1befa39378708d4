"""`prepare`: a raw challenge release (TIFFs + one JSON of scores) -> a `datasets` DatasetDict on disk.

Each TIFF is read once: its pixels are checked and its original bytes go straight into the final
Arrow file (no intermediate cache to copy, nothing held beyond a small batch). The result is
written in a hidden folder beside `out` and renamed into place only when complete and re-opened
with `datasets.load_from_disk`, so a failure never leaves something that looks like a dataset.
"""

from __future__ import annotations

import io
import json
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import tifffile
import xxhash
from datasets.arrow_writer import ArrowWriter
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from ldct_bench.data.archive import open_archive
from ldct_bench.data.dataset_card import LDCT_IQA, About, render
from ldct_bench.data.scale import CATEGORIES, category_of
from ldct_bench.data.source import Entry, Problems, SplitSource, raise_problems, scan
from ldct_bench.errors import UserError

SHAPE = (512, 512)
SHARD = "data-00000-of-00001.arrow"
WRITER_BATCH = 16  # rows buffered per Arrow record batch (~16 MB of images)
# Files larger than this per slice (a 4-channel float64 512x512 page, 8 MiB, with its headers) are refused
# unread; smaller ones are decoded, so a wrong dtype or channel count is named and junk after the image is found.
PAGE_BYTES = SHAPE[0] * SHAPE[1] * 8 * 4 + 64 * 1024
TRAILING_SLACK = 1024  # a writer may pad its last block; more than this after the image is foreign data


def features(extra: dict[str, datasets.Value] | None = None) -> datasets.Features:
    return datasets.Features({
        "id": datasets.Value("string"),
        "image": datasets.Image(),
        "score": datasets.Value("float32"),
        "category": datasets.ClassLabel(names=CATEGORIES),
        **(extra or {}),
    })


def _frames(data: bytes) -> list[np.ndarray]:
    """Every page of a TIFF, decoded by Pillow: the decoder `datasets.Image` uses when the task reads it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a broken file is reported once, as a problem, not as warnings
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "TIFF":
                raise ValueError(f"a {image.format} file")
            frames = []
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frames.append(np.asarray(image))
            return frames


def _tiff_end(data: bytes) -> int:
    """Offset just past the TIFF's last structure or pixel block: bytes beyond it belong to no image."""
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        layout = tif.tiff
        end = 8
        for page in tif.pages:
            if not isinstance(page, tifffile.TiffPage):  # a TiffFrame (LSM, ScanImage, NDPI files) has no tags read
                raise ValueError(f"page {page.index} is a frame without its tags")
            end = max(end, page.offset + layout.tagnosize + len(page.tags) * layout.tagsize + layout.offsetsize)
            end = max([end, *(offset + count for offset, count in zip(page.dataoffsets, page.databytecounts))])
            end = max([end, *(tag.valueoffset + tag.valuebytecount for tag in page.tags)])
        return end


def _found(data: bytes) -> str:
    """The dtype and shape a TIFF declares, read from its header without decoding (`float64 512x512`)."""
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            series = tif.series[0]
            return f"{series.dtype} {'x'.join(map(str, series.shape))}"
    except Exception:  # noqa: BLE001 - no readable header: the caller reports the decoder's reason
        return ""


def _size_ok(entry: Entry, size: int, problems: Problems) -> bool:
    """Refuse, from its size alone, a file far larger than its slices can be (a 2 GB file is never read)."""
    limit = len(entry.scores) * PAGE_BYTES
    if size <= limit:
        return True
    problems.add("file", "far larger than a 512x512 TIFF slice can be (data after the image?)",
                 f"{entry.path} ({size / 2**20:.1f} MiB, at most {limit / 2**20:.1f} MiB)")
    return False


def _tiff_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="TIFF")
    return buffer.getvalue()


def _checked_slices(entry: Entry, data: bytes, problems: Problems) -> list[tuple[str, bytes, float]]:
    """(id, TIFF bytes, score) per slice, or [] with the problem recorded; single images keep their bytes."""
    expected = (len(entry.scores), *SHAPE) if entry.stacked else SHAPE
    wanted = f"not float32 {'x'.join(map(str, expected))}"
    try:
        frames = _frames(data)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the same thing: unreadable
        found = _found(data)
        if found:  # a real TIFF of another kind (float64, several channels) that the task could not decode
            problems.add("image", wanted, f"{entry.path} ({found})")
        else:
            reason = "unknown or unsupported format" if isinstance(exc, UnidentifiedImageError) else str(exc)[:60]
            problems.add("file", "that cannot be read as a TIFF image", f"{entry.path} ({reason})")
        return []
    try:
        trailing = len(data) - _tiff_end(data)
    except Exception as exc:  # noqa: BLE001 - Pillow decoded it but its structure does not add up
        problems.add("file", "that cannot be read as a TIFF image", f"{entry.path} ({str(exc)[:60]})")
        return []
    if trailing > TRAILING_SLACK:
        problems.add("file", "with data after the end of its TIFF image (a damaged or joined file)",
                     f"{entry.path} ({trailing} bytes after the image)")
        return []
    uniform = len({frame.shape for frame in frames}) == 1
    pixels = (np.stack(frames) if entry.stacked or len(frames) > 1 else frames[0]) if uniform else None
    if pixels is None or pixels.dtype != np.float32 or pixels.shape != expected:
        found = f"{pixels.dtype} {'x'.join(map(str, pixels.shape))}" if pixels is not None else "pages of mixed sizes"
        problems.add("image", wanted, f"{entry.path} ({found})")
        return []
    low, high = float(pixels.min()), float(pixels.max())
    if not (low >= 0.0 and high <= 1.0):  # also catches NaN
        problems.add("image", "with values outside [0, 1] or NaN", f"{entry.path} (min {low:.3g}, max {high:.3g})")
        return []
    encoded = [_tiff_bytes(frame) for frame in pixels] if entry.stacked else [data]
    return list(zip(entry.ids, encoded, entry.scores))


def _write_split(source: SplitSource, folder: Path, feats: datasets.Features, extra: dict[str, dict[str, object]],
                 problems: Problems, progress: tqdm, stop: list[Problems]) -> str:
    """Stream one split into its Arrow file; returns a fingerprint of its content.

    After the first problem anywhere (`stop`), nothing more is written, but every file is still
    checked so the error can give the full count.
    """
    folder.mkdir(parents=True)
    digest = xxhash.xxh3_128()  # fast content hash (a dependency of datasets); keys cached columns
    with ArrowWriter(features=feats, path=str(folder / SHARD), writer_batch_size=WRITER_BATCH) as writer:
        for entry in source.entries:
            readable = _size_ok(entry, source.archive.size(entry.path), problems)
            slices = _checked_slices(entry, source.archive.read(entry.path), problems) if readable else []
            progress.update(1)
            if any(stop):
                continue
            for item_id, data, score in slices:
                row = {"id": item_id, "image": {"bytes": data, "path": None}, "score": score,
                       "category": category_of(score), **{c: values.get(item_id) for c, values in extra.items()}}
                digest.update(json.dumps([item_id, score, *(row[c] for c in extra)]).encode())
                digest.update(data)
                writer.write(feats.encode_example(row))
        writer.finalize()
    return digest.hexdigest()


def _write_metadata(folder: Path, split: str, fingerprint: str, info: datasets.DatasetInfo) -> None:
    """The two small files `load_from_disk` reads beside each split's Arrow data."""
    state: dict[str, Any] = {"_data_files": [{"filename": SHARD}], "_fingerprint": fingerprint,
                             "_format_columns": None, "_format_kwargs": {}, "_format_type": None,
                             "_output_all_columns": False, "_split": split}
    (folder / "state.json").write_text(json.dumps(state, indent=2))
    info.write_to_directory(str(folder))


def _check_out(out: Path) -> None:
    """Only an empty folder or an earlier prepared dataset may be replaced."""
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / "dataset_dict.json").is_file())):
        raise UserError(f"--out {out} exists and is not a prepared dataset; choose a new folder or remove it")


def _move_into_place(staged: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}") if out.exists() else None
    if old is not None:
        out.rename(old)
    staged.rename(out)
    if old is not None:
        shutil.rmtree(old)


def _build(sources: dict[str, SplitSource], staged: Path, extra: dict[str, dict[str, object]], about: About) -> None:
    feats = features({column: datasets.Value("string") for column in extra})
    problems = {split: Problems(f"{split} release {source.archive.location}") for split, source in sources.items()}
    fingerprints = {}
    total = sum(len(source.entries) for source in sources.values())
    with tqdm(total=total, desc="preparing", unit="file", disable=None, leave=False) as progress:
        for split, source in sources.items():
            fingerprints[split] = _write_split(source, staged / split, feats, extra, problems[split], progress,
                                               list(problems.values()))
    raise_problems(list(problems.values()))
    info = datasets.DatasetInfo(description=about.summary, citation=about.citation, homepage=about.homepage,
                                license=about.licence, features=feats)
    for split in sources:
        _write_metadata(staged / split, split, fingerprints[split], info)
    (staged / "dataset_dict.json").write_text(json.dumps({"splits": list(sources)}))
    sizes = {split: source.size for split, source in sources.items()}
    loaded = datasets.load_from_disk(str(staged))
    if {split: loaded[split].num_rows for split in sources} != sizes:
        raise RuntimeError(f"prepared dataset does not re-open as written ({loaded}); datasets' disk format changed?")
    (staged / "README.md").write_text(render(about, sizes, fingerprints, list(extra)))


def _check_disjoint(sources: dict[str, SplitSource]) -> None:
    """An id names one image: the same file name in both splits is a mix-up of the two releases."""
    train, test = ({i for entry in sources[split].entries for i in entry.ids} for split in ("train", "test"))
    problems = Problems(f"--train {sources['train'].archive.location} and --test {sources['test'].archive.location}")
    for item_id in sorted(train & test):
        problems.add("image", "in both train and test", item_id)
    raise_problems([problems])


def _staging(out: Path) -> Path:
    """Create the hidden folder the dataset is written into, before any file is read: an --out that cannot
    be written (below a file, on a read-only disk) fails at once, in one line."""
    probe = out.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"--out {out} cannot be created: {probe} is a file, not a folder; choose another --out")
    staged = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staged.mkdir()
    except OSError as exc:
        raise UserError(f"--out {out} cannot be written ({exc.strerror or exc}); choose a writable folder") from None
    return staged


def _stopped(exc: OSError, staged: Path, out: Path) -> UserError:
    """One line for a read or write failure midway (a full disk, an unreadable file)."""
    reason = exc.strerror or (str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
    name = str(exc.filename or "")
    writing = not name or name.startswith((str(staged), str(out)))
    hint = "free some space or choose another --out" if writing else "check that the release's files can be read"
    return UserError(f"prepare stopped: {reason}{f' ({name})' if name else ''}; nothing was written to {out}; "
                     f"{hint}, then run it again")


def prepare(train: Path, test: Path, out: Path, extra: dict[str, dict[str, object]] | None = None,
            about: About = LDCT_IQA) -> Path:
    """Check both splits, write the dataset and its card to `out` (replacing an earlier prepared copy).

    Whatever stops it (a bad file, a full disk, Ctrl-C) removes the hidden partial folder, so nothing
    that looks like a dataset is left behind.
    """
    out = Path(out).expanduser().resolve()
    _check_out(out)
    staged = _staging(out)
    try:
        with open_archive(Path(train)) as train_files, open_archive(Path(test)) as test_files:
            sources = {"train": scan(train_files, "train"), "test": scan(test_files, "test")}
            _check_disjoint(sources)
            _build(sources, staged, extra or {}, about)
            _move_into_place(staged, out)
    except OSError as exc:
        raise _stopped(exc, staged, out) from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return out
