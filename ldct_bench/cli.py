"""`ldct-bench`: the admin commands that are not a run (list the registry, and more per subcommand)."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from .errors import UserError, did_you_mean
from .registry import LIST_NAMES, describe

KINDS = {plural: kind for kind, plural in LIST_NAMES.items()}


def cmd_list(args: argparse.Namespace) -> None:
    """Print the registered cards and config options, one per line."""
    wanted = [args.kind] if args.kind else list(KINDS)
    for plural in wanted:
        if plural not in KINDS:
            raise UserError(f"nothing called '{plural}' to list;{did_you_mean(plural, KINDS) or ''} "
                            f"choose from {', '.join(KINDS)}")
        rows = describe(KINDS[plural])
        print(f"{plural}:")
        width = max((len(row["name"]) for row in rows), default=0)
        for row in rows:
            extra = f"[{row['backend']}] " if "backend" in row else ""
            print(f"  {row['name']:<{width}}  {extra}{row['description']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ldct-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list models, tasks, strategies, metadata or loggers")
    listing.add_argument("kind", nargs="?", help=", ".join(KINDS))
    listing.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except UserError as exc:
        print(f"ldct-bench: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
