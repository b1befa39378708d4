"""Where the shipped cards, configs and per-user stores live (independent of the current directory), and
writing a file there whole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """`conf`, `models` or `tasks`: inside an installed wheel, or at the repository root."""
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"ldct-bench resource folder '{name}' is missing; reinstall the package")


def user_card_dirs() -> list[Path]:
    """Extra card folders from LDCT_BENCH_CARDS (os.pathsep-separated; each may hold models/ and tasks/)."""
    raw = os.environ.get("LDCT_BENCH_CARDS", "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))) / "ldct-bench"


def default_cache_dir() -> Path:
    """Per-user response cache (the default of `cache.dir`), shared by all runs."""
    return Path(os.environ.get("LDCT_BENCH_CACHE") or _user_cache() / "responses").expanduser()


def data_dir() -> Path:
    """Per-user store of data derived from pixels: the built demo task and computed columns."""
    return Path(os.environ.get("LDCT_BENCH_DATA") or _user_cache() / "data").expanduser()


def rescue_dir() -> Path:
    """Where answers go that a run could not write into its own run dir (a full disk); the next run folds them in."""
    return Path(os.environ.get("LDCT_BENCH_RESCUE") or default_cache_dir().parent / "rescued").expanduser()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file whole or not at all (a temporary file beside it, then a rename): readers, and a run killed
    mid-write, never see half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as handle:
        partial = Path(handle.name)
        try:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, path)
