"""A run dir belongs to one configuration and one process at a time; `resume=DIR` replays the overrides it
was made with; a run that stops before its first answer leaves no run dir behind."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from pathlib import Path

from ldct_bench.errors import UserError
from ldct_bench.secrets import mask_override

RUN_FILE = "run.json"  # config digest and overrides: what resume replays
PREDICTIONS = "predictions.jsonl"  # the journal of test items: the run's source of truth
CALIBRATION = "calibration.jsonl"  # error feedback's calibration answers
RESULTS = "results.json"
LOCK_FILE = ".lock"  # held (flock) for the whole run; the kernel drops it when the process dies
_SET_UP = (".hydra", "__main__.log", RUN_FILE, LOCK_FILE)  # what a start writes before any answer
_OUTPUT_KEYS = ("hydra.run.dir=", "hydra.sweep.dir=", "hydra.sweep.subdir=")


def has_answers(run_dir: Path) -> bool:
    """True when the run dir's journals, or the rescue files of answers its disk refused, hold an answer."""
    from ldct_bench.run.journal import Journal  # the journal module reads rundir's names: imported here, one way

    journals = [Journal(Path(run_dir) / name) for name in (PREDICTIONS, CALIBRATION)]
    return any(j.path.is_file() and j.path.stat().st_size > 0 for j in journals) or \
        any(path.exists() for j in journals for path in j.rescue_paths())


class RunLock:
    """One run per run dir: an exclusive lock on `<run dir>/.lock` naming the process that holds it."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise UserError naming its holder; a lock left by a killed process is free again."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"cannot write to run dir {self.path.parent} ({exc.strerror}); "
                            "set hydra.run.dir to a writable folder") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise UserError(f"run dir {self.path.parent} is in use by {holder}; wait for that run to finish "
                            "(or stop it), or pick another hydra.run.dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} (started {time.strftime('%Y-%m-%d %H:%M:%S')})".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def remove_unused(run_dir: Path) -> None:
    """Undo a start that never got an answer: what it set up goes, then the folders left empty."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or has_answers(run_dir):
        return
    for name in _SET_UP:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink(missing_ok=True)
    for folder in [run_dir, *list(run_dir.parents)[:3]]:
        try:
            folder.rmdir()  # only empty folders go: nothing of the user's is ever removed
        except OSError:
            break


def claim(run_dir: Path, digest: str, overrides: list[str]) -> None:
    """Record the config digest and overrides on first use; refuse a run dir whose answers came from another
    config (a run dir without answers is simply taken over)."""
    path = Path(run_dir) / RUN_FILE
    if path.exists() and has_answers(run_dir):
        stored = json.loads(path.read_text()).get("config_digest")
        if stored != digest:
            raise UserError(f"run dir {run_dir} holds answers of a different configuration "
                            f"(digest {stored}, this run {digest}); pick another hydra.run.dir or delete that folder")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"config_digest": digest, "overrides": [mask_override(o) for o in overrides],
                                    "created": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2))
    except OSError as exc:
        raise UserError(f"cannot write to run dir {run_dir} ({exc.strerror}); "
                        "set hydra.run.dir to a writable folder") from None


def resume_command(run_dir: Path) -> str:
    return f"python -m ldct_bench resume={run_dir}"


def expand_resume(argv: list[str]) -> list[str]:
    """Turn `resume=DIR` into the overrides that made DIR, pointed back at DIR."""
    wanted = [arg for arg in argv if arg.startswith("resume=")]
    if not wanted:
        return argv
    run_dir = Path(wanted[-1].split("=", 1)[1]).expanduser().resolve()
    path = run_dir / RUN_FILE
    if not path.exists():
        raise UserError(f"resume={run_dir}: no {RUN_FILE} there, so it is not an ldct-bench run dir; "
                        "give the folder a run printed as its run dir")
    stored = [o for o in json.loads(path.read_text())["overrides"] if not o.startswith(_OUTPUT_KEYS)]
    rest = [arg for arg in argv if not arg.startswith("resume=")]
    return [*stored, *rest, f"hydra.run.dir={run_dir}"]
