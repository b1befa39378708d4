"""The tolerant answer parser: reads what models write, never invents a score."""

import pytest

from ldct_bench.answer import AnswerError, parse_answer


@pytest.mark.parametrize("text, score, category", [
    ('{"score": 2.8, "category": "Fair", "explanation": "noise"}', 2.8, "Fair"),
    ('```json\n{"score": 3.1, "category": "Good", "explanation": "x"}\n```', 3.1, "Good"),
    ("Score (float): 3.1\nCategory: Good\nExplanation: mild noise", 3.1, "Good"),
    ("**Score (float):** **2.4**\n**Category:** Fair", 2.4, "Fair"),
    ("I would rate this 3.5/4 because streaks are mild.", 3.5, None),
    ("2.0", 2.0, None),
    ("Category: Poor. Heavy noise throughout.", 1.0, "Poor"),
    ('{"Score": "2.6", "Category": "fair"}', 2.6, "Fair"),
])
def test_reads_common_answer_shapes(text, score, category):
    answer = parse_answer(text)
    assert answer.score == pytest.approx(score)
    assert answer.category == category


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("I'm sorry, but I can't assess medical images.", "refusal"),
    ("The slice shows the liver.", "no score"),
    ('{"score": 7, "category": "Good"}', "outside"),
    ("Score: -1", "outside"),
])
def test_failures_are_errors_not_scores(text, reason):
    with pytest.raises(AnswerError, match=reason):
        parse_answer(text)
