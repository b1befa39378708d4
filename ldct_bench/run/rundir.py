"""A run dir: the folder one configuration's answers live in, owned by one run at a time.

`RunDir` owns the folder's life: the lock held for the whole run (`held`), the claim that binds it to one
configuration (`claim`), the journals and results inside it, and the clean-up of a start that never got an
answer, so a corrected command starts clean. `resume=DIR` replays the overrides a run dir was made with.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ldct_bench.errors import SaveError, UserError
from ldct_bench.run.journal import Journal
from ldct_bench.secrets import mask_override

if TYPE_CHECKING:
    from ldct_bench.run.results import Results

RUN_FILE = "run.json"  # config digest, the run's identity and overrides: what resume replays
PREDICTIONS = "predictions.jsonl"  # the journal of test items: the run's source of truth
CALIBRATION = "calibration.jsonl"  # error feedback's calibration answers
LOCK_FILE = ".lock"  # held (flock) for the whole run and removed after it; the kernel drops it when the process dies
_SET_UP = (".hydra", RUN_FILE, LOCK_FILE)  # what a start writes before any answer
_OUTPUT_KEYS = ("hydra.run.dir=", "hydra.sweep.dir=", "hydra.sweep.subdir=")


class RunDir:
    def __init__(self, path: Path | str):
        self.path = Path(path).resolve()
        self.predictions = Journal(self.path / PREDICTIONS)
        self.calibration = Journal(self.path / CALIBRATION)
        self._lock_fd: int | None = None

    def __str__(self) -> str:
        return str(self.path)

    def has_answers(self) -> bool:
        """True when the journals, or the rescue files of answers the disk refused, hold an answer."""
        journals = (self.predictions, self.calibration)
        return any(j.path.is_file() and j.path.stat().st_size > 0 for j in journals) or \
            any(path.exists() for j in journals for path in j.rescue_paths())

    # ---- one run at a time ----

    @property
    def locked(self) -> bool:
        """Whether this object holds the run dir's lock."""
        return self._lock_fd is not None

    def lock(self) -> None:
        """Take the lock or raise UserError naming its holder; a lock left by a killed process is free again."""
        path = self.path / LOCK_FILE
        while True:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise UserError(f"cannot write to run dir {self.path} ({exc.strerror}); "
                                "set hydra.run.dir to a writable folder") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise UserError(f"run dir {self.path} is in use by {holder}; wait for that run to finish "
                                "(or stop it), or pick another hydra.run.dir") from None
            if _same_file(fd, path):
                break
            os.close(fd)  # the holder removed the file as we opened it: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} (started {time.strftime('%Y-%m-%d %H:%M:%S')})".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        """Remove the lock file while still holding it, then let go (a waiting run notices and locks anew)."""
        if self._lock_fd is not None:
            (self.path / LOCK_FILE).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextmanager
    def held(self) -> Iterator[RunDir]:
        """The run dir for one run: locked throughout; a start that fails before its first answer leaves nothing
        behind, while a failure to save keeps the dir (its resume command needs run.json)."""
        self.lock()
        try:
            yield self
        except SaveError:
            raise
        except BaseException:
            self.remove_unused()
            raise
        finally:
            self.unlock()

    def remove_unused(self) -> None:
        """Undo a start that never got an answer: what it set up goes, then the folders left empty."""
        if not self.path.is_dir() or self.has_answers():
            return
        for name in _SET_UP:  # a lock we hold stays held: the open file outlives its name
            path = self.path / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink(missing_ok=True)
        for folder in [self.path, *list(self.path.parents)[:3]]:
            try:
                folder.rmdir()  # only empty folders go: nothing of the user's is ever removed
            except OSError:
                break

    # ---- bound to one configuration ----

    def claim(self, digest: str, overrides: list[str], identity: dict[str, Any] | None = None) -> None:
        """Record the config digest, identity and overrides on first use; refuse a run dir whose answers came
        from another configuration (a run dir without answers is simply taken over)."""
        path = self.path / RUN_FILE
        if path.exists() and self.has_answers():
            stored = json.loads(path.read_text()).get("config_digest")
            if stored != digest:
                raise UserError(f"run dir {self.path} holds answers of a different configuration (digest {stored}, "
                                f"this run {digest}); pick another hydra.run.dir or delete that folder")
            return
        record = {"config_digest": digest, "identity": identity, "overrides": [mask_override(o) for o in overrides],
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=2, default=str))
        except OSError as exc:
            raise UserError(f"cannot write to run dir {self.path} ({exc.strerror}); "
                            "set hydra.run.dir to a writable folder") from None

    def write_results(self, results: Results) -> Path:
        from ldct_bench.run.results import RESULTS, write_results  # numpy and scipy: not before a run needs them

        try:
            return write_results(self.path, results)
        except OSError as exc:
            raise SaveError(f"cannot write {self.path / RESULTS} ({exc.strerror or exc}); every answer is in "
                            f"{self.predictions.path}; free some space, then continue with: "
                            f"{self.resume_command()}") from None

    def resume_command(self) -> str:
        return resume_command(self.path)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


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
