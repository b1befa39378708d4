"""`ldct-bench`: the admin commands that are not a run; one module per subcommand in commands/."""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UserError

# Each name is a module in ldct_bench/commands with `add_parser(subparsers)`.
COMMANDS = ("listing", "leaderboard", "label_regions", "estimate", "prepare", "compare", "score")
DESCRIPTION = ("Everything around a benchmark run (the run itself is `python -m ldct_bench`): prepare the data, "
               "price a run, rank and compare finished runs, score predictions made elsewhere.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ldct-bench", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"ldct_bench.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        print(f"ldct-bench: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
