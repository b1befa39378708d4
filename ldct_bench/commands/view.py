"""`ldct-bench view RUN_DIR [RUN_DIR ...] [--out DIR]`: a page of the runs' items, worst |error| first."""

from __future__ import annotations

import argparse
from pathlib import Path

from ldct_bench.view import FOLDER


def run(args: argparse.Namespace) -> None:
    """Write the page (index.html with thumbs/ and images/ beside it) and print its path."""
    from ldct_bench.view.page import write_page  # datasets and PIL load only when a page is built
    from ldct_bench.view.runs import load_runs

    dirs = [Path(d) for d in args.dirs]
    runs = load_runs(dirs)
    out = Path(args.out) if args.out else dirs[0] / FOLDER
    print(write_page(runs, out).resolve())


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("view", help="a page of a run's items, worst first, with the images (offline)")
    parser.add_argument("dirs", nargs="+", metavar="RUN_DIR",
                        help="run dirs, or sweep dirs holding several; several runs are shown side by side")
    parser.add_argument("--out", metavar="DIR",
                        help=f"the folder for index.html and its pictures (default: {FOLDER}/ in the first RUN_DIR)")
    parser.set_defaults(func=run)
