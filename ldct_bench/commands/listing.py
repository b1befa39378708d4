"""`ldct-bench list [models|tasks|strategies|metadata|loggers]`."""

from __future__ import annotations

import argparse

from ldct_bench.errors import UserError, did_you_mean
from ldct_bench.cards.lifecycle import effective_status
from ldct_bench.cards.registry import LIST_NAMES, card_files, describe, load_card

KINDS = {plural: kind for kind, plural in LIST_NAMES.items()}


def run(args: argparse.Namespace) -> None:
    """Print the registered cards and config options, one per line."""
    wanted = [args.kind] if args.kind else list(KINDS)
    for plural in wanted:
        if plural not in KINDS:
            raise UserError(f"nothing called '{plural}' to list;{did_you_mean(plural, KINDS) or ''} "
                            f"choose from {', '.join(KINDS)}")
        rows = describe(KINDS[plural])
        print(f"{plural}:")
        width = max((len(row["name"]) for row in rows), default=0)
        lifecycle = model_lifecycle() if plural == "models" else {}
        for row in rows:
            extra = f"[{row['backend']}] " if "backend" in row else ""
            print(f"  {row['name']:<{width}}  {extra}{lifecycle.get(row['name'], '')}{row['description']}")


def model_lifecycle() -> dict[str, str]:
    """Per model card: its status on today's date, shutdown date, successor and when its facts were checked."""
    shown = {}
    for name, card_file in card_files("model").items():
        card = load_card("model", card_file)
        status = effective_status(card)
        parts = [status + (f" {card.retires}" if card.retires else "")]
        if card.successor:
            parts.append(f"successor {card.successor}")
        parts.append(f"checked {card.checked or 'never'}")
        shown[name] = "(" + ", ".join(parts) + ") "
    return shown


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list", help="list models, tasks, strategies, metadata or loggers")
    parser.add_argument("kind", nargs="?", help=", ".join(KINDS))
    parser.set_defaults(func=run)
