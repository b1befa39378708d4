"""`ldct-bench prepare --train PATH --test PATH --out DIR [--push-to-hub REPO_ID]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import datasets

from ldct_bench.data import hub
from ldct_bench.data.release import prepare
from ldct_bench.errors import UserError


def run(args: argparse.Namespace) -> None:
    """Prepare the raw release into `--out` (and upload it); with only --out and --push-to-hub, upload it."""
    out = Path(args.out).expanduser().resolve()
    if (args.train is None) != (args.test is None):
        raise UserError("give both --train and --test (each a folder or .zip of the downloaded release)")
    if args.push_to_hub:
        hub.check_can_push()
    if args.train is not None:
        try:
            prepare(Path(args.train), Path(args.test), out)
        except KeyboardInterrupt:  # prepare has removed its partial folder on the way out
            print(f"ldct-bench: error: interrupted; {out} is as it was before (the partial copy is removed)",
                  file=sys.stderr)
            sys.exit(130)
    elif not args.push_to_hub:
        raise UserError("nothing to do: give --train PATH --test PATH to prepare, and/or --push-to-hub REPO_ID")
    elif not (out / "dataset_dict.json").is_file():
        raise UserError(f"{out} is not a prepared dataset; prepare it first with --train PATH --test PATH")
    sizes = ", ".join(f"{split} {table.num_rows}" for split, table in datasets.load_from_disk(str(out)).items())
    print(f"prepared {out} ({sizes} images); run with task=ldct_iqa task.path={out} (or LDCT_IQA_PATH={out})")
    if args.push_to_hub:
        url = hub.push(out, args.push_to_hub)
        print(f"pushed to {url} (private); load it with task=ldct_iqa task.hub_id={args.push_to_hub}")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare", help="turn the downloaded LDCT-IQA release into a `datasets` dataset",
        description="Check the downloaded release (TIFFs + one JSON of scores per split) and write it as a "
                    "Hugging Face `datasets` dataset with a dataset card. The data's licence applies: keep "
                    "the result for your own use; --push-to-hub uploads it to a private repository.")
    parser.add_argument("--train", metavar="PATH", help="training release: folder or .zip (Zenodo record 7833096)")
    parser.add_argument("--test", metavar="PATH", help="test release: folder or .zip (organizers' test set)")
    parser.add_argument("--out", metavar="DIR", required=True, help="where to write the prepared dataset")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="also upload to this private Hub dataset repo")
    parser.set_defaults(func=run)
