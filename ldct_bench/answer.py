"""Reading a score out of a model's reply: JSON when asked for, tolerant of free text, never invented."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .scale import CATEGORIES

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number", "description": "quality score from 0.0 to 4.0, one decimal"},
        "category": {"type": "string", "enum": CATEGORIES},
        "explanation": {"type": "string", "description": "the degradations seen: noise, streaks, blur, contrast loss"},
    },
    "required": ["score", "category", "explanation"],
    "additionalProperties": False,
}

_REFUSAL = re.compile(r"\b(I(?:'m| am)? (?:can(?:no|')t|unable|not able)|I cannot|sorry, but|as an AI)\b", re.I)
_SCORE_PATTERNS = [
    re.compile(r"score[^0-9\-\n]{0,30}?(-?\d+(?:\.\d+)?)", re.I),
    re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:/|out of)\s*4(?:\.0)?\b", re.I),
    re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*$"),
]
_CATEGORY = re.compile(r"\b(" + "|".join(CATEGORIES) + r")\b", re.I)


class AnswerError(ValueError):
    """The reply holds no usable score; the reason is recorded on the item."""


@dataclass(frozen=True)
class Answer:
    score: float
    category: str | None
    explanation: str
    source: str  # json | text | category: how the score was found


def _category(text: str) -> str | None:
    match = _CATEGORY.search(text)
    return match.group(1).capitalize() if match else None


def _from_json(text: str) -> Answer | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start:end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    lowered = {str(k).lower(): v for k, v in data.items()}
    score = next((lowered[k] for k in ("score", "quality_score", "rating") if k in lowered), None)
    if isinstance(score, str):
        score = re.sub(r"[^0-9.\-]", "", score) or None
    if score is None:
        return None
    category = lowered.get("category")
    return Answer(float(score), str(category).capitalize() if category else None,
                  str(lowered.get("explanation", "")).strip(), "json")


def _from_text(text: str) -> Answer | None:
    plain = re.sub(r"[*_`#]", "", text)
    for pattern in _SCORE_PATTERNS:
        match = pattern.search(plain)
        if match:
            explanation = re.search(r"explanation\s*:\s*(.+)", plain, re.I | re.S)
            return Answer(float(match.group(1)), _category(plain),
                          (explanation.group(1) if explanation else plain).strip(), "text")
    category = _category(plain)
    if category:  # the scale's own mapping: Bad 0 ... Excellent 4
        return Answer(float(CATEGORIES.index(category)), category, plain.strip(), "category")
    return None


def parse_answer(text: str | None) -> Answer:
    """The model's score, category and explanation; AnswerError when there is no usable score."""
    if not text or not text.strip():
        raise AnswerError("empty reply")
    answer = _from_json(text) or _from_text(text)
    if answer is None:
        reason = "refusal" if _REFUSAL.search(text) else "no score found in reply"
        raise AnswerError(reason)
    if not 0.0 <= answer.score <= 4.0:
        raise AnswerError(f"score {answer.score:g} outside the 0-4 scale")
    return answer
