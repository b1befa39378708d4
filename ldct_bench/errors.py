"""One exception type for every mistake a user can fix, so entry points print one line."""

from __future__ import annotations

import difflib
from typing import Iterable


class UserError(Exception):
    """A problem in the user's input or environment; the message says what and how to fix it."""

    exit_code = 2


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
