"""`ldct-bench list [models|tasks|strategies|metadata|loggers]`."""

from __future__ import annotations

import argparse
import textwrap

from ldct_bench.cards.lifecycle import effective_status
from ldct_bench.cards.order import Listed, model_order
from ldct_bench.cards.registry import LIST_NAMES, card_files, describe, load_card
from ldct_bench.errors import UserError, did_you_mean

KINDS = {plural: kind for kind, plural in LIST_NAMES.items()}
COLUMNS = 120  # no printed line is longer: a terminal or a pasted issue shows each row unbroken


def run(args: argparse.Namespace) -> None:
    """Print the registered cards and config options: the name, then its text wrapped beside it."""
    wanted = [args.kind] if args.kind else list(KINDS)
    for plural in wanted:
        if plural not in KINDS:
            raise UserError(f"nothing called '{plural}' to list;{did_you_mean(plural, KINDS) or ''} "
                            f"choose from {', '.join(KINDS)}")
        rows = describe(KINDS[plural])
        if plural == "models":
            lifecycle = model_lifecycle()
            by_name = {row["name"]: row for row in rows}
            order = model_order([Listed(name, row["provider"], lifecycle[name][0]) for name, row in by_name.items()])
            texts = [(name, [f"[{by_name[name]['backend']}] ({lifecycle[name][1]})", by_name[name]["description"]])
                     for name in order]
        else:
            texts = [(row["name"], [row["description"]]) for row in rows]
        print(f"{plural}:")
        print("\n".join(format_rows(texts)))


def format_rows(rows: list[tuple[str, list[str]]]) -> list[str]:
    """`  name  text`, each paragraph of text wrapped to COLUMNS and aligned after the widest name."""
    width = max((len(name) for name, _ in rows), default=0)
    indent = " " * (width + 4)
    lines = []
    for name, paragraphs in rows:
        first = f"  {name:<{width}}  "
        for paragraph in [text for text in paragraphs if text] or [""]:
            lines.extend(textwrap.wrap(paragraph, COLUMNS, initial_indent=first, subsequent_indent=indent,
                                       break_on_hyphens=False) or [first.rstrip()])
            first = indent
    return lines


def model_lifecycle() -> dict[str, tuple[str, str]]:
    """Per model card: its status on today's date, and that status with the shutdown date, successor and when
    its facts were checked."""
    shown = {}
    for name, card_file in card_files("model").items():
        card = load_card("model", card_file)
        status = effective_status(card)
        parts = [status + (f" {card.retires}" if card.retires else "")]
        if card.successor:
            parts.append(f"successor {card.successor}")
        parts.append(f"checked {card.checked or 'never'}")
        shown[name] = (status, ", ".join(parts))
    return shown


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list", help="list models, tasks, strategies, metadata or loggers")
    parser.add_argument("kind", nargs="?", help=", ".join(KINDS))
    parser.set_defaults(func=run)
