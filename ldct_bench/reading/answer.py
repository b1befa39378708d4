"""Reading a score out of a model's reply, strictly: a score is read only where the reply states one.

A wrong reading publishes a wrong correlation without anyone noticing, so every doubt is a failure
with its reason (AnswerError), never a guess. The rule, in order (docs/replies.md):
a reasoning block is skipped; a JSON object with a score key decides (fenced or after prose); otherwise
the text must hold an explicit score statement or be one number; a category word alone is not a score
unless the model card opts in; two different scores, refusals and scores off the 0-4 scale fail.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, NamedTuple

from ldct_bench.data.scale import CATEGORIES, MAX_SCORE, MIN_SCORE, category_of

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


class AnswerError(ValueError):
    """The reply holds no usable score; str(exc) is the short reason recorded on the item."""


@dataclass(frozen=True)
class Answer:
    score: float
    category: str | None  # as the model gave it (capitalised), or None
    explanation: str
    read_from: str  # json | text | category: where the score was found

    @property
    def category_disagrees(self) -> bool:
        """The model's category is not the one its score falls in (the score wins; this is counted)."""
        return self.category is not None and self.category != CATEGORIES[category_of(self.score)]


# --- reasoning blocks -------------------------------------------------------------------------------

_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>|◁think▷", re.I)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>|◁/think▷", re.I)
_FINAL_CHANNEL = re.compile(r"assistantfinal|<\|channel\|>final<\|message\|>")  # gpt-oss's raw channels
_REASONING_PARAGRAPH = re.compile(
    r"\A\s*(?:#{1,6}\s*)?[*_]*(?:reasoning|thinking|thoughts?|thought process|chain of thought)[*_]*"
    r"[ \t]*(?::|(?=\n))[*_]*"
    r"[^\n]*(?:\n(?!\s*\n)[^\n]*)*\n\s*\n", re.I)


def strip_reasoning(text: str) -> str:
    """The reply without its reasoning: what precedes gpt-oss's final channel, text before a closing tag
    whose opening the chat template ate, think blocks, a think block that never closed (all the rest is
    reasoning), and a leading "Reasoning: ..." paragraph when more follows. Linear in the reply's length."""
    final = list(_FINAL_CHANNEL.finditer(text))
    if final:
        text = text[final[-1].end():]
    opening, closing = _THINK_OPEN.search(text), _THINK_CLOSE.search(text)
    if closing and (opening is None or closing.start() < opening.start()):
        text = text[closing.end():]
    kept, position = [], 0
    while (opening := _THINK_OPEN.search(text, position)) is not None:
        kept.append(text[position:opening.start()])
        closing = _THINK_CLOSE.search(text, opening.end())
        if closing is None:
            break
        position = closing.end()
    else:
        kept.append(text[position:])
    text = "".join(kept)
    paragraph = _REASONING_PARAGRAPH.match(text)
    if paragraph and text[paragraph.end():].strip():
        text = text[paragraph.end():]
    return text


# --- JSON -------------------------------------------------------------------------------------------

_FENCE = re.compile(r"(```|~~~)[ \t]*(?:json5?|javascript|js)?[ \t]*\n?(.*?)\1", re.I | re.S)
_DECODER = json.JSONDecoder()


def _objects_in(text: str, offset: int = 0) -> list[tuple[dict[str, Any], tuple[int, int]]]:
    """Every top-level JSON object in `text` with its span (objects nested in them are not listed apart)."""
    found, position = [], text.find("{")
    while position >= 0:
        try:
            value, end = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError):  # not JSON here (or absurdly deep): try the next brace
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append((value, (offset + position, offset + end)))
        position = text.find("{", end)
    return found


def json_objects(text: str) -> list[tuple[dict[str, Any], tuple[int, int]]]:
    """The reply's JSON objects and their spans: those inside code fences when any fence holds one
    (a format example in the prose must not compete with the fenced answer), else those anywhere."""
    fenced = [found for fence in _FENCE.finditer(text) for found in _objects_in(fence.group(2), fence.start(2))]
    return fenced or _objects_in(text)


def find_json_object(text: str) -> dict[str, Any] | None:
    """The reply's JSON object (the last one when there are several), after any reasoning block; None if none."""
    objects = json_objects(strip_reasoning(text))
    return objects[-1][0] if objects else None


_SCORE_KEYS = ("score", "quality_score", "image_quality_score", "overall_score", "final_score", "rating")
_EXPLANATION_KEYS = ("explanation", "reason", "rationale", "justification", "reasoning", "comment")


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _field(data: dict[str, Any], names: tuple[str, ...], nested: bool = True) -> tuple[bool, Any]:
    """(found, value) of the first of `names` among the object's keys, compared case- and spacing-blind;
    an object holding no such key but one nested object that does (`{"assessment": {...}}`) is looked into."""
    keys = {_key(str(k)): v for k, v in data.items()}
    for name in names:
        if name in keys:
            return True, keys[name]
    inner = [v for v in data.values() if nested and isinstance(v, dict) and _field(v, names, False)[0]]
    return _field(inner[0], names, False) if len(inner) == 1 else (False, None)


# --- numbers ----------------------------------------------------------------------------------------

_NUMBER = r"[+-]?\d+(?:[.,]\d+)?"
_SCORE_STRING = re.compile(rf"({_NUMBER})(?:\s*(?:/|out of)\s*4(?:[.,]0+)?)?", re.I)
_RANGE = re.compile(rf"{_NUMBER}\s*(?:-|–|—|to)\s*{_NUMBER}", re.I)
_FRACTION = re.compile(rf"({_NUMBER})\s*(?:/|out of)\s*({_NUMBER})", re.I)
_ANY_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _number(raw: str) -> float:
    return float(raw.replace(",", "."))


def _checked(value: float, shown: str) -> float:
    """The score when it is a finite number on the scale, else AnswerError."""
    if not math.isfinite(value):
        raise AnswerError(f"score is not a number ({shown})")
    if not MIN_SCORE <= value <= MAX_SCORE:
        raise AnswerError(f"score {shown} outside the 0-4 scale")
    return value


def _score_from_string(raw: str) -> float:
    """A JSON string score: one number, with a decimal comma or "/4" / "out of 4" allowed; else AnswerError."""
    text = unicodedata.normalize("NFKC", raw).strip().strip("*`'\" ").rstrip(".")
    match = _SCORE_STRING.fullmatch(text)
    if match:
        return _checked(_number(match.group(1)), match.group(1))
    if _RANGE.fullmatch(text):
        raise AnswerError(f"score is a range ({raw.strip()[:30]})")
    fraction = _FRACTION.fullmatch(text)
    if fraction:
        raise AnswerError(f"score {raw.strip()[:30]} is not on the 0-4 scale")
    if len(_ANY_NUMBER.findall(text)) > 1:
        raise AnswerError(f"score holds several numbers ({raw.strip()[:30]})")
    raise AnswerError(f"score is not a number ({raw.strip()[:30]})")


def _score_from_json(value: Any) -> float:
    """A JSON score value: a number, or a string holding one; booleans, null, lists and objects fail."""
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise AnswerError(f"score is not a number ({json.dumps(value)[:30]})")
    if isinstance(value, int):  # compared as an int: float() of a 400-digit int overflows
        if not MIN_SCORE <= value <= MAX_SCORE:
            raise AnswerError(f"score {str(value)[:20]} outside the 0-4 scale")
        return float(value)
    if isinstance(value, float):
        return _checked(value, "NaN" if math.isnan(value) else "Infinity" if math.isinf(value) else f"{value:g}")
    return _score_from_string(str(value))


# --- free text --------------------------------------------------------------------------------------

_CATEGORY_WORD_RAW = "|".join(CATEGORIES)
_CATEGORY_WORD = f"({_CATEGORY_WORD_RAW})"
_ASPECTS = (r"noise|noisy|artifacts?|artefacts?|streaks?|streaking|sharpness|blur|blurring|contrast|resolution|"
            r"snr|cnr|detail|texture|hu|dose|window")
_LABEL = (r"(?<![A-Za-z])(?:score|rating|bewertung|punktzahl|puntuaci[oó]n|punteggio|quality|answer)(?![A-Za-z])"
          r"|评分|分数|得分|スコア|점수")
_BRACKETED = r"\([^()\n]{0,80}\)|\[[^\[\]\n]{0,80}\]"
# "Score (0-4): 3.2", "Score on a 0–4 scale: 2.6", "score of 2.8", "**Score:**\n2.7", '"score": 2.5' (broken
# JSON), "Score 2.7"; the bare-space form only right after the label, and never before the scale's own text.
_WORD = r"(?:[^\s:=;!?()\[\].]|\.(?=\d))+"
_BARE_NUMBER = (rf"(?={_NUMBER}(?![\d.,]*\d)(?!\s*(?:-|–|—|to)\s*\d)"
                rf"(?=[ \t]*(?:$|[.,;!)(/]|out of|[–—-][ \t]*[A-Za-z]|{_CATEGORY_WORD_RAW})))")
_STATEMENT = re.compile(
    rf"(?P<label>{_LABEL})[\"']?(?:"
    rf"(?P<qualifier>(?:\s*(?:{_BRACKETED})|[ \t]+{_WORD}){{0,5}}?)"
    rf"(?:\s*[:=|]|[ \t]+(?:is|of|would be|should be|=)|[ \t]+[–—-][ \t]|[ \t]*\n)"
    rf"|(?:\s*(?:{_BRACKETED}))?[ \t]+{_BARE_NUMBER})"
    rf"(?:[ \t]*\n){{0,2}}[ \t]*(?:(?:about|around|approximately|roughly|an?)\s+)?(?P<number>{_NUMBER})(?![\d.,]*\d)",
    re.I | re.M)
_I_RATE = re.compile(
    rf"\bI(?:'d|'ll| would| will)?\s+(?:rate|score|give|grade)\s+(?:it|this(?:\s+(?:image|slice|scan|one))?|"
    rf"the\s+(?:image|slice|scan))\s+(?:an?\s+|at\s+|as\s+)?(?P<number>{_NUMBER})(?![\d.,]*\d)", re.I)
_OUT_OF_FOUR = re.compile(
    r"(?<![\w.,/+\-])(?P<number>\d+(?:[.,]\d+)?)\s*(?:/|out of)\s*4(?:[.,]0+)?(?![\d.,]*\d)(?!\s*/)"
    r"(?!\s*-?\s*(?:dose|of)\b)", re.I)  # not "1/4 dose", "3/4 of the liver", "12/4/2023"
_BOXED = re.compile(rf"\\boxed\{{\s*(?P<number>{_NUMBER})\s*\}}")
_ALONE = re.compile(
    rf"\s*(?P<number>{_NUMBER})(?:\s*(?:/|out of)\s*4(?:[.,]0+)?)?\s*\.?\s*"
    rf"(?:[(\[–—:-]?\s*{_CATEGORY_WORD}\s*[)\]]?\s*\.?)?\s*", re.I)
_AFTER_RANGE = re.compile(rf"\s*(?:\([A-Za-z ]{{1,20}}\))?\s*(?:-|–|—|to)\s*({_NUMBER})(?![\d.,]*\d)", re.I)
_AFTER_FRACTION = re.compile(rf"\s*(?:/|out of)\s*({_NUMBER})", re.I)
_AFTER_LEGEND = re.compile(rf"\s*(?:=|->|→)\s*{_CATEGORY_WORD}\b|\s+{_CATEGORY_WORD}\s*:", re.I)
_AFTER_PERCENT = re.compile(r"\s*%")
_AFTER_NOT_A_SCORE = re.compile(r"\s*(?:[x×]\s*\d|(?:mm|cm|hu|kvp|mas|px|pixels?|slices?)\b)|\s+of\b", re.I)
_AFTER_CATEGORY = re.compile(rf"\s*(?:(?:/|out of)\s*4(?:[.,]0+)?)?\s*[(\[–—-]?\s*{_CATEGORY_WORD}\b", re.I)
_ASPECT_BEFORE = re.compile(rf"\b(?:{_ASPECTS})\b(?:\s+level)?\s*$", re.I)
_ASPECT_LINE = re.compile(rf"\b(?:{_ASPECTS})\b[^.;!?\n]{{0,30}}[:=]\s*$", re.I)
_ASPECT_WORD = re.compile(rf"\b(?:{_ASPECTS})\b", re.I)
_CATEGORY_LABEL = re.compile(
    rf"(?<![A-Za-z])(?:category|kategorie|catégorie|categoría|categoria|quality)[\"']?(?:\s*(?:{_BRACKETED}))?"
    rf"(?:\s*[:=|]|[ \t]*\n)\s*[\"']?{_CATEGORY_WORD}\b", re.I)
_CATEGORY_ALONE = re.compile(rf"\s*[\"']?{_CATEGORY_WORD}[\"']?\s*[.!]?\s*", re.I)
_EXPLANATION = re.compile(r"(?<![A-Za-z])(?:explanation|reason|rationale|justification)\s*:\s*(.+)", re.I | re.S)
_REFUSAL = re.compile(
    r"\bI(?:'m| am)?\s*(?:can ?not|can't|cannot|am unable|'m unable|unable|am not able|'m not able|not able|won't|"
    r"will not|must decline)\b(?:\s+\w+){0,3}?\s+(?:to\s+)?(?:assess|evaluate|rate|score|provide|help|"
    r"analy[sz]e|determine|interpret|view|see|access|judge|grade|give|offer|make|comply)"
    r"|\bsorry\b|\bas an AI\b|\bnot a (?:substitute|replacement) for\b"
    r"|\bno image (?:was|is|has been) (?:provided|attached)\b",
    re.I)


class _Candidate(NamedTuple):
    value: float | None  # None: the statement is there but unusable (see problem)
    shown: str  # the number as the reply wrote it
    problem: str | None
    category: str | None  # a category word right after the number ("3.2 (Good)")


def _plain(text: str) -> str:
    """Text for reading: compatibility forms folded (full-width colon and digits), markdown emphasis,
    code ticks and heading marks dropped."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[*`]+", "", text)
    text = re.sub(r"(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])", "", text)
    return re.sub(r"^[ \t]{0,3}#{1,6}[ \t]*", "", text, flags=re.M)


def _candidate(text: str, match: re.Match[str]) -> _Candidate | None:
    """What the number a statement points at means, judged by what follows it; None for the scale's own
    text echoed back ("0-4", "0 to 4", "0 = Bad")."""
    shown, rest = match.group("number"), text[match.end("number"):match.end("number") + 40]
    value = _number(shown)
    span = _AFTER_RANGE.match(rest)
    if span:
        if value == MIN_SCORE and _number(span.group(1)) == MAX_SCORE:
            return None
        return _Candidate(None, shown, f"score is a range ({shown}-{span.group(1)})", None)
    legend = _AFTER_LEGEND.match(rest)  # a level and its own category: "0 = Bad", "0 Bad: the desired ..."
    if legend and shown.isdigit() and int(shown) < len(CATEGORIES) and \
            (legend.group(1) or legend.group(2)).capitalize() == CATEGORIES[int(shown)]:
        return None
    if _AFTER_NOT_A_SCORE.match(rest):  # "512x512", "5 mm", "3 of the 4 criteria"
        return None
    if _AFTER_PERCENT.match(rest):
        return _Candidate(None, shown, f"score {shown}% is not on the 0-4 scale", None)
    fraction = _AFTER_FRACTION.match(rest)
    if fraction and _number(fraction.group(1)) != MAX_SCORE:
        return _Candidate(None, shown, f"score {shown}/{fraction.group(1)} is not on the 0-4 scale", None)
    category = _AFTER_CATEGORY.match(rest)
    return _Candidate(value, shown, None, category.group(1).capitalize() if category else None)


def _statements(text: str) -> list[_Candidate]:
    """Every explicit score statement in the text; sub-scores ("Noise score: 2", "Noise: 2/4") are not the score."""
    found = []
    for match in _STATEMENT.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        qualifier = match.group("qualifier") or ""
        if _ASPECT_BEFORE.search(text[line_start:match.start()]) or _ASPECT_WORD.search(qualifier):
            continue
        if match.group("label").lower() in ("quality", "answer") and not re.search(r"[:=]", text[match.end("label"):
                                                                                      match.start("number")]):
            continue  # these label a score only as "Quality: 3" ("image quality of 3 slices" is prose)
        found.append(_candidate(text, match))
    for pattern in (_I_RATE, _BOXED):
        found.extend(_candidate(text, match) for match in pattern.finditer(text))
    for match in _OUT_OF_FOUR.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if not _ASPECT_LINE.search(text[line_start:match.start()]):
            found.append(_Candidate(_number(match.group("number")), match.group("number"), None, None))
    return [candidate for candidate in found if candidate is not None]


def _one_score(candidates: list[_Candidate]) -> _Candidate | None:
    """The single score the candidates agree on; a problem or two different values is AnswerError."""
    for candidate in candidates:
        if candidate.problem:
            raise AnswerError(candidate.problem)
    distinct: dict[float, _Candidate] = {}
    for candidate in candidates:
        assert candidate.value is not None  # a statement without a value has a problem, raised above
        distinct.setdefault(candidate.value, candidate)
    if len(distinct) > 1:
        first, second = list(distinct.values())[:2]
        raise AnswerError(f"ambiguous: {first.shown} and {second.shown}")
    return next(iter(distinct.values()), None)


def _stated_category(text: str) -> str | None:
    match = _CATEGORY_LABEL.search(text)
    return match.group(1).capitalize() if match else None


def _explanation(text: str) -> str:
    match = _EXPLANATION.search(text)
    return (match.group(1) if match else text).strip()


def _from_text(text: str, json_category: str | None, category_as_score: bool) -> Answer:
    """Steps 3-5 of the rule on a reply whose JSON (if any) holds no score."""
    plain = _plain(text)
    if _RANGE.fullmatch(plain.strip()):
        raise AnswerError(f"score is a range ({plain.strip()[:30]})")
    alone = _ALONE.fullmatch(plain)
    alone_candidate = _candidate(plain, alone) if alone else None  # None too for the scale's own text
    chosen = _one_score(_statements(plain) or ([alone_candidate] if alone_candidate else []))
    category = json_category or _stated_category(plain)
    if chosen is not None:
        assert chosen.value is not None  # _one_score raised for a statement without a value
        score = _checked(chosen.value, chosen.shown)
        return Answer(score, category or chosen.category, _explanation(plain), "text")
    alone_category = _CATEGORY_ALONE.fullmatch(plain)
    category = category or (alone_category.group(1).capitalize() if alone_category else None)
    if category in CATEGORIES:
        if not category_as_score:
            raise AnswerError("category only")
        return Answer(float(CATEGORIES.index(category)), category, _explanation(plain), "category")
    raise AnswerError("refusal" if _REFUSAL.search(plain) else "no score found")


# --- the rule ---------------------------------------------------------------------------------------

def _json_category(data: dict[str, Any]) -> str | None:
    found, value = _field(data, ("category",))
    return value.strip().capitalize() if found and isinstance(value, str) and value.strip() else None


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with the given spans cut out (each replaced by a line break)."""
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + "\n" + text[end:]
    return text


def parse_answer(text: str | None, *, category_as_score: bool = False) -> Answer:
    """The reply's score, category and explanation by the reading rule; AnswerError with the reason otherwise.

    `category_as_score` (a model card's opt-in) reads an explicit category with no score as its level
    (Bad 0 ... Excellent 4)."""
    if not text or not text.strip():
        raise AnswerError("empty reply")
    reply = strip_reasoning(text)
    if not reply.strip():
        raise AnswerError("empty reply (reasoning only)")
    objects = json_objects(reply)
    scored = [data for data, _ in objects if _field(data, _SCORE_KEYS)[0]]
    if not scored:
        return _from_text(reply, _json_category(objects[-1][0]) if objects else None, category_as_score)
    scores: dict[float, tuple[str, dict[str, Any] | None]] = {}
    for data in scored:
        value = _field(data, _SCORE_KEYS)[1]
        scores.setdefault(_score_from_json(value), (str(value), data))
    prose = _without(reply, [span for _, span in _objects_in(reply)])  # format examples in prose are not read
    for candidate in _statements(_plain(prose)):  # prose beside the JSON that states another score: ambiguous
        if candidate.value is not None:  # a statement with a problem (and so no value) is not read here
            scores.setdefault(candidate.value, (candidate.shown, None))
    if len(scores) > 1:
        (first, _), (second, _) = list(scores.values())[:2]
        raise AnswerError(f"ambiguous: {first} and {second}")
    [(score, (_, scored_object))] = scores.items()
    assert scored_object is not None  # the JSON's score came first, so the one score left holds its object
    found, explanation = _field(scored_object, _EXPLANATION_KEYS)
    return Answer(score, _json_category(scored_object),
                  str(explanation).strip() if found and explanation is not None else "", "json")
