"""`ldct-bench leaderboard [DIR ...] [--wandb-project P] [--wandb] [--published] [--out DIR]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ldct_bench.errors import UserError
from ldct_bench.report.board_files import CSV_HEADER, raw_rows, text_table, write_all
from ldct_bench.report.leaderboard import DEFAULT_MIN_COVERAGE, build

DEFAULT_FOLDER = "outputs"


def run(args: argparse.Namespace) -> None:
    """Rank the runs found, print the table, write leaderboard.md/.csv/.html (and a W&B table with --wandb)."""
    folders = [Path(d) for d in args.dirs] or ([] if args.wandb_project else [Path(DEFAULT_FOLDER)])
    if not 0.0 <= args.min_coverage <= 1.0:
        raise UserError(f"--min-coverage {args.min_coverage} must be between 0 and 1")
    rows = build(folders, args.wandb_project, args.published, args.min_coverage)
    out_dir = Path(args.out) if args.out else (folders[0] if folders else Path.cwd())
    print(text_table(rows))
    paths = write_all(rows, out_dir)
    print(f"wrote {paths['md']}, {paths['csv']}, {paths['html']}")
    if args.wandb:
        from ldct_bench.report.wandb_logger import log_leaderboard

        log_leaderboard(CSV_HEADER, raw_rows(rows), args.wandb_project or "ldct-bench", out_dir)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("leaderboard", help="rank finished runs by overall (prints; writes md/csv/html)")
    parser.add_argument("dirs", nargs="*", metavar="DIR",
                        help=f"folders holding run dirs, searched recursively (default: {DEFAULT_FOLDER})")
    parser.add_argument("--wandb-project", metavar="P", help="also read runs from this W&B project (online only)")
    parser.add_argument("--wandb", action="store_true", help="log the leaderboard as a W&B Table")
    parser.add_argument("--published", action="store_true",
                        help="add the paper's and the challenge's published rows, marked as not run here")
    parser.add_argument("--min-coverage", type=float, default=DEFAULT_MIN_COVERAGE, metavar="F",
                        help="runs that scored fewer than this fraction of their items are flagged and ranked last "
                             f"(default: {DEFAULT_MIN_COVERAGE})")
    parser.add_argument("--out", metavar="DIR", help="where to write the files (default: the first DIR)")
    parser.set_defaults(func=run)
