"""`ldct-bench list`: every line fits 120 columns, and model cards come by maker, newest first, base before variant."""

from __future__ import annotations

import pytest

from ldct_bench.cards.order import Listed, model_order
from ldct_bench.cli import main as cli_main


def listed(capsys, kind: str | None = None) -> list[str]:
    cli_main(["list", *([kind] if kind else [])])
    return capsys.readouterr().out.splitlines()


def names(lines: list[str]) -> list[str]:
    """The card names, in printed order: rows start two spaces in; wrapped text is indented further."""
    return [line.split()[0] for line in lines[1:] if line.startswith("  ") and not line.startswith("   ")]


def test_every_listed_line_fits_120_columns(capsys):
    lines = listed(capsys)
    assert len(lines) > 40 and max(map(len, lines)) <= 120
    assert {"models:", "tasks:", "strategies:", "metadata:", "loggers:"} <= set(lines)


def test_models_come_by_maker_newest_first_and_base_before_variant(capsys):
    order = names(listed(capsys, "models"))
    at = {name: i for i, name in enumerate(order)}
    assert at["gemma-3"] + 1 == at["gemma-3-vllm"] and at["gpt-4o"] + 1 == at["gpt-4o-mini"]
    assert at["llama-4-maverick"] + 1 == at["llama-4-maverick-vllm"]  # Together's card stays with Meta's
    assert at["gpt-6.2-astra"] < at["gpt-6-astra"] < at["gpt-4o"]
    assert at["grok-4.7"] < at["grok-4.3"] < at["grok-2-vision"]  # a retired card after the ones that run
    assert at["claude-sonnet-5-5"] < at["claude-sonnet-4"]
    assert at["qwen4-max"] < at["qwen2.5-vl-7b-vllm"] < at["qwen-vl-max"]  # a name without a version last
    google = [name for name in order if name.startswith(("gemini", "gemma"))]
    assert order[at[google[0]]:at[google[0]] + len(google)] == google  # one maker's cards together


def test_model_order_uses_only_what_the_cards_say():
    cards = [Listed("x-2-vllm", "acme", "active"), Listed("x-2", "acme", "active"), Listed("x-10", "acme", "active"),
             Listed("x-1.5", "acme", "retired"), Listed("x-2.1", "acme", "deprecated"),
             Listed("y-1", "some-host", "active"), Listed("y-1-vllm", "bmaker", "active"),
             Listed("y-2-vllm", "bmaker", "active"), Listed("aa", "zz", "active")]
    assert model_order(cards) == ["x-10", "x-2", "x-2-vllm", "x-2.1", "x-1.5", "y-2-vllm", "y-1", "y-1-vllm", "aa"]


@pytest.mark.parametrize("kind", ["models", "tasks"])
def test_long_descriptions_wrap_under_their_own_column(capsys, kind):
    lines = listed(capsys, kind)
    rows = names(lines)
    column = lines[1].index(lines[1].split()[1])  # where the first row's text starts
    wrapped = [line for line in lines[1:] if line.split()[0] not in rows]
    assert wrapped and all(line.startswith(" " * column) and line[column] != " " for line in wrapped)
