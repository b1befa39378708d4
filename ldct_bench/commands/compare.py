"""`ldct-bench compare RUN_A RUN_B`: is B better than A on the items both scored? B - A per metric."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ldct_bench.errors import UserError
from ldct_bench.report.runs import read_predictions
from ldct_bench.report.setting import prompted, setting_text
from ldct_bench.run.records import Prediction
from ldct_bench.run.results import Results, read_results
from ldct_bench.stats.metrics import ALL, undefined_reason
from ldct_bench.stats.paired import PairedDelta, paired_deltas, shared_items


def _load(run_dir: Path) -> tuple[Results, list[Prediction]]:
    results = read_results(run_dir)
    if results is None:
        raise UserError(f"{run_dir} holds no ldct-bench results.json; give the folders two finished runs wrote")
    return results, read_predictions(run_dir)


def _labels(a: Results, b: Results) -> tuple[str, str]:
    """Each run's model and setting (repeats, scoring and changed card fields included, see setting_text) and
    the seed of a prompted run (it picks the examples); when nothing shown differs but the config digests do
    (the data, a scored file), the digests too."""

    def shown(results: Results, digest: bool = False) -> str:
        return " | ".join([results.model, setting_text(results),
                           *([f"seed={results.seed}"] if prompted(results) else []),
                           *([f"config {results.config_digest}"] if digest else [])])

    if shown(a) == shown(b) and a.config_digest != b.config_digest:
        return shown(a, digest=True), shown(b, digest=True)
    return shown(a), shown(b)


def _show(value: float, signed: bool = False) -> str:
    return "n/a" if not math.isfinite(value) else (f"{value:+.4f}" if signed else f"{value:.4f}")


def _p(value: float) -> str:
    return "n/a" if not math.isfinite(value) else "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def _scored(records: list[Prediction]) -> int:
    return sum(1 for r in records if r.score is not None)


def format_deltas(deltas: dict[str, PairedDelta], level: float) -> str:
    """The table `compare` prints: A, B, B - A, its interval and p-value per metric."""
    lines = [f"{'metric':<8} {'A':>8} {'B':>8} {'B - A':>8}   {level:.0%} CI{'':<13} {'p':>8}"]
    for name in ALL:
        d = deltas[name]
        interval = f"[{_show(d.low, True)}, {_show(d.high, True)}]"
        lines.append(f"{name.upper():<8} {_show(d.a):>8} {_show(d.b):>8} {_show(d.delta, True):>8}   "
                     f"{interval:<20} {_p(d.p_value):>8}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    """Print B - A for every metric over the shared scored items; refuse runs of different tasks."""
    if args.resamples < 100 or not 0 < args.level < 1:
        raise UserError("--resamples must be at least 100 and --level between 0 and 1 (e.g. 2000 and 0.95)")
    (results_a, records_a), (results_b, records_b) = _load(Path(args.run_a)), _load(Path(args.run_b))
    if results_a.task != results_b.task:
        raise UserError(f"the runs scored different tasks ({results_a.task} and {results_b.task}); "
                        "compare two runs of the same task")
    rows = shared_items(records_a, records_b)
    n = len(rows)
    if n == 0:
        raise UserError(f"no item was scored by both runs ({args.run_a}, {args.run_b}); compare runs over the same "
                        "items")
    deltas = paired_deltas(records_a, records_b, resamples=args.resamples, seed=args.seed, level=args.level)
    label_a, label_b = _labels(results_a, results_b)
    print(f"A: {label_a}  ({args.run_a})\nB: {label_b}  ({args.run_b})")
    print(f"{n} shared items scored by both (A scored {_scored(records_a)}, B scored {_scored(records_b)}); "
          f"paired bootstrap, {args.resamples} resamples, seed {args.seed}")
    print(format_deltas(deltas, args.level))
    if n < 3:
        print("fewer than 3 shared items: the correlations are undefined")
        return
    for side, column in (("A", 1), ("B", 2)):
        reason = undefined_reason([row[0] for row in rows], [row[column] for row in rows])
        if reason:
            print(f"{side} on the shared items: {reason}")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare", help="B - A per metric over the items both runs scored, "
                                                   "with a paired bootstrap interval and p-value")
    parser.add_argument("run_a", metavar="RUN_A", help="run dir of the baseline")
    parser.add_argument("run_b", metavar="RUN_B", help="run dir of the candidate")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")
    parser.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    parser.set_defaults(func=run)
