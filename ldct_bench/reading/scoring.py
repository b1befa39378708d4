"""How a reply becomes an item's score: the score it states (`scoring=text`), or the expected level under
the model's own token probabilities at the score's level digit (`scoring=expected`, as Q-Bench / Q-Align do).

The expected level is continuous, so it removes the ties that whole-number answers put on SROCC and KROCC,
from the same single request. It needs an endpoint that returns log-probabilities (card `logprobs: true`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from ldct_bench.backends.base import Completion
from ldct_bench.reading.answer import Answer, AnswerError, parse_answer

LEVELS = "01234"
# Where the score's value starts: after the JSON key, after an explicit "score ...:" statement, before "/4".
_JSON_VALUE = re.compile(r'"score"\s*:\s*"?\s*(?=\d)', re.I)
_TEXT_VALUE = re.compile(r"score[^\n:：]{0,30}[:：]\s*[*_\s]*(?=\d)", re.I)
_OUT_OF_FOUR = re.compile(r"(?<![\d.,])(?=\d(?:[.,]\d+)?\s*(?:/\s*4|out of 4)\b)", re.I)
_BARE = re.compile(r"^\s*(?=\d)")
_DECORATION = " \t\n\"'*_:：`"


@dataclass(frozen=True)
class LevelAnswer(Answer):
    """An answer whose score is the expected level; the five level probabilities are kept."""

    probabilities: tuple[float, ...] = ()


def level_position(text: str, answer: Answer) -> int:
    """Character offset of the stated score's first digit (its level), or AnswerError. The last matching place
    wins: a reasoning block, which the reader skipped, comes before the answer."""
    digit = LEVELS[min(int(answer.score), 4)]
    patterns = (_JSON_VALUE, _TEXT_VALUE, _OUT_OF_FOUR, _BARE)
    if answer.read_from != "json":
        patterns = (_TEXT_VALUE, _OUT_OF_FOUR, _BARE, _JSON_VALUE)
    for pattern in patterns:
        places = [match.end() for match in pattern.finditer(text) if text[match.end()] == digit]
        if places:
            return places[-1]
    raise AnswerError("the score's level digit was not found in the reply")


def _level_of(token: str, prefix: str) -> int | None:
    """The level a candidate token would put at the score's place (`3`, ` 3`, `3.` -> 3), else None."""
    if prefix and token.startswith(prefix):
        token = token[len(prefix):]
    token = token.lstrip(_DECORATION)
    if not token or token[0] not in LEVELS or (len(token) > 1 and token[1].isdigit()):
        return None
    return int(token[0])


def level_probabilities(logprobs: list[dict[str, Any]], text: str, position: int) -> tuple[float, ...]:
    """P(level 0..4) at the token that emits text[position], renormalised over the five levels."""
    offset = 0
    for token in logprobs:
        piece = token["token"]
        if offset <= position < offset + len(piece):
            if piece[position - offset] != text[position]:  # tokens that do not spell the reply: never guess
                raise AnswerError("the log-probabilities do not line up with the reply's text")
            prefix = piece[:position - offset].lstrip(_DECORATION)
            mass = [0.0] * 5
            seen: set[str] = set()
            for candidate in [*token.get("top_logprobs", []), {"token": piece, "logprob": token["logprob"]}]:
                level = _level_of(candidate["token"], prefix)
                if level is not None and candidate["token"] not in seen:
                    seen.add(candidate["token"])
                    mass[level] += math.exp(candidate["logprob"])
            total = sum(mass)
            if not total > 0:
                raise AnswerError("no level among the token's log-probabilities")
            return tuple(m / total for m in mass)
        offset += len(piece)
    raise AnswerError("the log-probabilities do not cover the score (the tokens do not spell the reply)")


def expected_answer(completion: Completion, category_as_score: bool = False) -> LevelAnswer:
    """The reply read as text, its score replaced by the expected level at the score's digit."""
    answer = parse_answer(completion.text, category_as_score=category_as_score)
    if not completion.logprobs:
        raise AnswerError("no log-probabilities in the response")
    probabilities = level_probabilities(completion.logprobs, completion.text, level_position(completion.text, answer))
    expected = sum(level * p for level, p in enumerate(probabilities))
    stated = {f.name: getattr(answer, f.name) for f in fields(Answer)}
    return LevelAnswer(**{**stated, "score": expected, "read_from": "logprobs"}, probabilities=probabilities)


def reader(scoring: str, category_as_score: bool = False) -> Callable[[Completion], Answer]:
    """The function that turns one completion into an Answer (AnswerError when it cannot)."""
    if scoring == "expected":
        return lambda completion: expected_answer(completion, category_as_score)
    return lambda completion: parse_answer(completion.text, category_as_score=category_as_score)
