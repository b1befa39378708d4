"""One exception type for every mistake a user can fix, so entry points print one line."""

from __future__ import annotations

import difflib
import tempfile
import traceback
from collections.abc import Iterable


class UserError(Exception):
    """A problem in the user's input or environment; the message says what and how to fix it."""

    exit_code = 2


class Interrupted(UserError):
    """The user stopped the run (Ctrl-C): not an error, but the command ends with 130 and says how to go on."""

    exit_code = 130


class LowCoverage(UserError):
    """The run finished, but scored fewer items than `min_coverage` asks."""

    exit_code = 3


class SaveError(UserError):
    """Answers could not be written where they belong (a full disk); the message says where they are instead.
    The run dir stays as it is: its resume command needs it."""

    exit_code = 4


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' did you mean X?' suffix with the closest names, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    if not close:
        lowered = {c.lower().replace("-", "").replace("_", ""): c for c in choices}
        key = word.lower().replace("-", "").replace("_", "")
        close = [lowered[key]] if key in lowered else []
    return f" did you mean {' or '.join(close)}?" if close else ""


def first_line(exc: BaseException, *, typed: bool = False, limit: int = 200) -> str:
    """An exception in one line: the first line of its message (its type's name when there is none), cut at
    `limit`; `typed` puts the type's name in front, for exceptions the user did not cause."""
    text = str(exc).strip()
    if not text:
        return exc.__class__.__name__
    line = text.splitlines()[0]
    return (f"{exc.__class__.__name__}: {line}" if typed else line)[:limit]


def failure_line(exc: BaseException, prefix: str = "ldct-bench") -> tuple[str, int]:
    """The one line and exit code for anything that ends a command early; an unexpected exception is named in
    one masked line, with its traceback in a file for the bug report."""
    if isinstance(exc, Interrupted):
        return f"{prefix}: {exc}", exc.exit_code
    if isinstance(exc, UserError):
        return f"{prefix}: error: {exc}", exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return f"{prefix}: interrupted before any item was scored", 130
    if isinstance(exc, OSError) and exc.filename:
        return (f"{prefix}: error: cannot write {exc.filename} ({exc.strerror or exc}); free some space there or "
                "set hydra.run.dir (hydra.sweep.dir with -m) to another disk"), 2
    return f"{prefix}: error: {_internal_error(exc)}", 1


def _internal_error(exc: BaseException) -> str:
    from ldct_bench.secrets import redact

    trace = redact("".join(traceback.format_exception(exc)))
    with tempfile.NamedTemporaryFile("w", prefix="ldct-bench-error-", suffix=".txt", delete=False) as handle:
        handle.write(trace)
    return (f"internal error ({exc.__class__.__name__}: {redact(str(exc))[:200]}); this is a bug in ldct-bench: "
            f"please report it with {handle.name}; answers already received are kept in the run dir")
