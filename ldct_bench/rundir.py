"""A run dir belongs to one configuration; `resume=DIR` replays the overrides it was made with."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .errors import UserError
from .secrets import mask_override

RUN_FILE = "run.json"  # config digest and overrides: what resume replays
PREDICTIONS = "predictions.jsonl"  # the journal of test items: the run's source of truth
CALIBRATION = "calibration.jsonl"  # error feedback's calibration answers
RESULTS = "results.json"
_OUTPUT_KEYS = ("hydra.run.dir=", "hydra.sweep.dir=", "hydra.sweep.subdir=")


def claim(run_dir: Path, digest: str, overrides: list[str]) -> None:
    """Record the config digest and overrides on first use; refuse a run dir made by another config."""
    path = Path(run_dir) / RUN_FILE
    if path.exists():
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
