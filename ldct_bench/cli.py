"""`ldct-bench`: the admin commands that are not a run; one module per subcommand in commands/."""

from __future__ import annotations

import argparse
import importlib
import sys

from ldct_bench.errors import failure_line

# Command name -> (module in ldct_bench/commands with `add_parser(subparsers)`, one-line help). Only the module of
# the command given is imported: the others pull in datasets, scipy or matplotlib, seconds before `--help`.
COMMANDS = {
    "list": ("listing", "list models, tasks, strategies, metadata or loggers"),
    "estimate": ("estimate", "predict requests, tokens and dollars of a run (nothing is sent)"),
    "prepare": ("prepare", "turn the downloaded LDCT-IQA release into a `datasets` dataset"),
    "label-regions": ("label_regions", "label each image's anatomical region with a model"),
    "leaderboard": ("leaderboard", "rank finished runs by overall (prints; writes md/csv/html)"),
    "compare": ("compare", "B - A per metric over the items both runs scored, with a paired interval and p-value"),
    "score": ("score", "score predictions made elsewhere against a task's test split"),
    "view": ("view", "a page of a run's items, worst first, with the images (offline)"),
}
DESCRIPTION = ("Everything around a benchmark run (the run itself is `python -m ldct_bench`): prepare the data, "
               "price a run, rank and compare finished runs, look at their items, score predictions made elsewhere.")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser, with the full options of the command named in argv and a help line for every other."""
    parser = argparse.ArgumentParser(prog="ldct-bench", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module, help_line) in COMMANDS.items():
        if name == chosen:
            importlib.import_module(f"ldct_bench.commands.{module}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=help_line)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        args.func(args)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - one line for everything; a traceback in a file
        line, code = failure_line(exc)
        print(line, file=sys.stderr)
        sys.exit(code)


if __name__ == "__main__":
    main()
