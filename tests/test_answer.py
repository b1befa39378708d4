"""The reading rule: every reply of the corpus (tests/data/replies.yaml) is read as its expected outcome,
and no input of any shape makes the reader raise anything but AnswerError."""

import json
import math
import random
from pathlib import Path

import pytest
import yaml

from ldct_bench.metadata.region import parse_region
from ldct_bench.reading.answer import Answer, AnswerError, find_json_object, parse_answer

CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "replies.yaml").read_text(encoding="utf-8"))
OUTCOMES = {"score", "error"}


def test_corpus_is_large_well_formed_and_covers_the_issue_table():
    ids = [case["id"] for case in CORPUS]
    assert len(ids) >= 100 and len(set(ids)) == len(ids)
    assert all(len(OUTCOMES & case.keys()) == 1 for case in CORPUS), "each case needs a score or an error"
    replies = {case["reply"] for case in CORPUS}
    issue_table = ["Score (0-4): 3.2", "Score (0.0 to 4.0): 2.7", '{"score": "0,3"', '{"score": true',
                   '{"score": [3]', '{"score": {"v": 2}', '{"score": "2-3"', '{"score": "NaN", "category": "Fair"}',
                   '{"score": "Infinity"', '{"score": "3.2/4"', '{"score": "2.5 out of 4"',
                   "I can't assess this; the image quality looks poor"]
    assert all(any(row in reply for reply in replies if reply) for row in issue_table)
    assert sum(len(case["reply"] or "") > 1500 for case in CORPUS) >= 2


@pytest.mark.parametrize("case", CORPUS, ids=[case["id"] for case in CORPUS])
def test_corpus_reply_is_read_as_expected(case):
    opt_in = case.get("category_as_score", False)
    if "error" in case:
        with pytest.raises(AnswerError) as failure:
            parse_answer(case["reply"], category_as_score=opt_in)
        assert str(failure.value).startswith(case["error"]), str(failure.value)
        return
    answer = parse_answer(case["reply"], category_as_score=opt_in)
    assert answer.score == pytest.approx(case["score"], abs=1e-3)
    for field in ("category", "read_from"):
        if field in case:
            assert getattr(answer, field) == case[field]
    if "disagrees" in case:
        assert answer.category_disagrees is case["disagrees"]


def test_json_explanation_and_text_explanation_are_kept():
    assert parse_answer('{"score": 2.0, "category": "Fair", "explanation": " streaks "}').explanation == "streaks"
    assert parse_answer("Score: 2.0\nExplanation: mild noise\nacross the liver").explanation == \
        "mild noise\nacross the liver"


def test_category_disagreement_is_by_floor_and_4_is_excellent():
    assert not Answer(2.99, "Fair", "", "json").category_disagrees
    assert Answer(3.0, "Fair", "", "json").category_disagrees
    assert not Answer(4.0, "Excellent", "", "json").category_disagrees
    assert not Answer(1.0, None, "", "text").category_disagrees


@pytest.mark.parametrize("reply, expected", [
    ('{"region": "liver"}', {"region": "liver"}),
    ('Sure.\n```json\n{"region": "kidney"}\n```\nHope this helps.', {"region": "kidney"}),
    ('The label {"region": "chest"} fits best, so: {"region": "pelvis"}', {"region": "pelvis"}),
    ('<think>{"region": "chest"}</think>{"region": "other"}', {"region": "other"}),
    ('{"region": "liver", broken', None),
    ("no braces at all", None),
])
def test_find_json_object_takes_fenced_or_last_object_after_reasoning(reply, expected):
    assert find_json_object(reply) == expected


def test_region_labeller_follows_the_same_json_rule():
    assert parse_region('Looking at the slice, the kidneys dominate.\n\n{"region": "kidney"}') == "kidney"
    assert parse_region('<think>maybe {"region": "liver"}</think>\n```json\n{"region": "pelvis"}\n```') == "pelvis"


def _random_json(rng: random.Random, depth: int = 0):
    """A random JSON-able value: numbers of every kind, strings that look like scores, nesting."""
    choices = [
        lambda: rng.choice([True, False, None]),
        lambda: rng.uniform(-10, 10),
        lambda: rng.randint(-10**30, 10**30),
        lambda: rng.choice([math.nan, math.inf, -math.inf, 1e308, -0.0]),
        lambda: rng.choice(["3,5", "2-3", "7/10", "NaN", "Infinity", "", " ", "3.2/4", "2.5 out of 4", "Good",
                            "1e999", "٣", "３.２", "-", "/4", "out of 4"]),
        lambda: "".join(rng.choice("0123456789.,-/ eE+outfINnaNGod") for _ in range(rng.randint(0, 12))),
    ]
    if depth < 3:
        choices += [lambda: [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))],
                    lambda: {rng.choice(["score", "Score", "category", "explanation", "assessment", "x"]):
                             _random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}]
    return rng.choice(choices)()


_PIECES = ["Score", "score:", "Score (0-4):", "**", "```json", "```", "{", "}", '"score": ', "<think>", "</think>",
           "Category: ", "Fair", "Good", "/4", " out of 4", "：", "0", "3,5", "2.5", "-", "=", "\n", "\n\n", " ",
           "I can't", "Reasoning:", "(", ")", "[", "]", "\\boxed{", "%", "é", "\u00a0", "７", "assistantfinal"]


def _random_reply(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 20)))
    if kind < 0.7:
        return json.dumps({"score": _random_json(rng), "category": _random_json(rng)}, allow_nan=True)
    if kind < 0.85:
        return json.dumps(_random_json(rng), allow_nan=True)
    return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 60)))


def test_no_input_makes_the_reader_raise_anything_but_answer_error():
    rng = random.Random(20261130)
    read = 0
    for _ in range(3000):
        reply = _random_reply(rng)
        for opt_in in (False, True):
            try:
                answer = parse_answer(reply, category_as_score=opt_in)
            except AnswerError:
                continue
            read += 1
            assert math.isfinite(answer.score) and 0.0 <= answer.score <= 4.0, reply
            assert answer.read_from in ("json", "text", "category")
    assert read > 100  # the generator does produce readable replies, so both branches ran


@pytest.mark.parametrize("reply", ["[" * 5000, "{" * 5000, '{"a":' * 3000 + "1" + "}" * 3000, "<think>" * 20000,
                                   "1" * 100000, "Score " * 20000, "0-4 " * 30000])
def test_absurd_replies_fail_cleanly(reply):
    """How long they take is benchmarks/reading_speed.py's to print."""
    with pytest.raises(AnswerError):
        parse_answer(reply)


LONG_REPLY = ("Noise near 0.004, liver at 55 HU, W350/L40, 512x512, 5 mm slices; streaks are faint. " * 2400
              + "\n\nScore: 2.3\nCategory: Fair\n" + "{not json " * 500)


def test_a_200_kb_reply_is_read():
    assert parse_answer(LONG_REPLY).score == pytest.approx(2.3)
