"""A raw release as the user downloaded it, a folder or a .zip, read without unpacking."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ldct_bench.errors import UserError

# Files that archivers and desktops add beside the data; never part of a release.
_NOISE_DIRS = {"__MACOSX", ".ipynb_checkpoints"}
_NOISE_FILES = {"Thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class Archive:
    """Relative POSIX paths of a release's files, a way to read each one's bytes and to learn its size unread."""

    location: Path
    paths: list[str]
    read: Callable[[str], bytes]
    size: Callable[[str], int]


def _kept(path: PurePosixPath) -> bool:
    hidden = any(part.startswith(".") or part in _NOISE_DIRS for part in path.parts)
    return not hidden and path.name not in _NOISE_FILES


def _refuse_links_out(location: Path, paths: list[str]) -> None:
    """A symlink to a file outside the release would slip a foreign file into the dataset: refuse it."""
    root = location.resolve()
    outside = [p for p in paths if not (location / p).resolve().is_relative_to(root)]
    if outside:
        more = f" and {len(outside) - 3} more" if len(outside) > 3 else ""
        raise UserError(f"{location}: {len(outside)} file(s) link outside the release folder: "
                        f"{', '.join(outside[:3])}{more}; copy the real files into the folder instead of linking "
                        "(nothing was written)")


@contextmanager
def open_archive(location: Path) -> Iterator[Archive]:
    """Open a release folder or .zip; a missing or unsupported path fails in one line."""
    location = Path(location).expanduser()
    if location.is_dir():
        paths = sorted(p.relative_to(location).as_posix() for p in location.rglob("*") if p.is_file())
        kept = [p for p in paths if _kept(PurePosixPath(p))]
        _refuse_links_out(location, kept)
        yield Archive(location, kept, lambda rel: (location / rel).read_bytes(),
                      lambda rel: (location / rel).stat().st_size)
    elif location.is_file() and zipfile.is_zipfile(location):
        with zipfile.ZipFile(location) as bundle:
            paths = sorted(info.filename for info in bundle.infolist() if not info.is_dir())
            yield Archive(location, [p for p in paths if _kept(PurePosixPath(p))], bundle.read,
                          lambda rel: bundle.getinfo(rel).file_size)
    elif location.exists():
        raise UserError(f"{location} is neither a folder nor a .zip; pass the downloaded release "
                        "(the .zip or the folder it unpacks to)")
    else:
        raise UserError(f"{location} does not exist; pass the downloaded release (a folder or a .zip)")
