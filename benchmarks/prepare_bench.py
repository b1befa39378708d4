"""`ldct-bench prepare` on a full-size synthetic release: wall time and peak memory (target < 2 min, < 2 GB).

    python benchmarks/prepare_bench.py [--train 1000] [--test 300] [--zip] [--compare]

Writes 1000 + 300 float32 512x512 TIFFs (the real release's size) in the challenge layout, then
runs the real CLI in a child process and reads the child's peak resident memory with
`resource.getrusage(RUSAGE_CHILDREN)`. `--zip` feeds the same files as two .zip archives.
`--compare` also times the obvious alternative, `Dataset.from_generator` + `save_to_disk`, which
writes an Arrow cache and then copies it (its peak RSS includes the memory-mapped cache it reads).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import tifffile
from common import scratch

TARGET_S, TARGET_MB = 120.0, 2048.0

# The obvious alternative, run as its own child so its memory is measured alone.
FROM_GENERATOR = """
import json, sys
from pathlib import Path
import datasets
datasets.disable_progress_bars()
from ldct_bench.data.release import features
from ldct_bench.data.scale import category_of
def rows(folder):
    scores = json.loads(next(Path(folder).glob("*.json")).read_text())
    for path in sorted(p for p in Path(folder).rglob("*") if p.suffix in (".tif", ".tiff")):
        yield {"id": path.name, "image": {"bytes": path.read_bytes(), "path": None}, "score": scores[path.name],
               "category": category_of(scores[path.name])}
out = Path(sys.argv[3])
splits = {split: datasets.Dataset.from_generator(rows, gen_kwargs={"folder": folder}, features=features(),
                                                 cache_dir=str(out) + ".cache")
          for split, folder in (("train", sys.argv[1]), ("test", sys.argv[2]))}
datasets.DatasetDict(splits).save_to_disk(str(out))
"""


def write_release(root: Path, n_train: int, n_test: int) -> tuple[Path, Path]:
    """CT-like float32 slices in [0, 1]: a smooth body plus noise whose level varies per image."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[-1:1:512j, -1:1:512j]
    body = np.where((xx / 0.85) ** 2 + (yy / 0.62) ** 2 <= 1.0, 0.74, 0.0)
    folders = []
    for folder, subdir, label_file, pattern, count in (
            (root / "LDCTIQAG2023_train", "image", "train.json", "{:04d}.tif", n_train),
            (root / "LDCTIQAC_test", "images", "test.json", "test{:03d}.tiff", n_test)):
        (folder / subdir).mkdir(parents=True)
        scores = {}
        for index in range(count):
            sigma = rng.uniform(0.003, 0.03)
            pixels = np.clip(body + sigma * rng.standard_normal((512, 512)), 0.0, 1.0).astype(np.float32)
            name = pattern.format(index)
            tifffile.imwrite(folder / subdir / name, pixels)
            scores[name] = round(float(np.clip(4.4 - 140 * sigma, 0, 4)), 1)
        (folder / label_file).write_text(json.dumps(scores))
        folders.append(folder)
    return folders[0], folders[1]


def zipped(folder: Path) -> Path:
    archive = folder.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as bundle:
        for path in sorted(folder.rglob("*")):
            bundle.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return archive


def measured(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process, from that child's own rusage (os.wait4)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{command[:4]} failed with exit code {child.returncode}")
    return wall, usage.ru_maxrss / 1024.0


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--zip", action="store_true", help="give prepare the two splits as .zip files")
    parser.add_argument("--compare", action="store_true", help="also measure from_generator + save_to_disk")
    args = parser.parse_args()
    root = scratch()
    try:
        started = time.perf_counter()
        train, test = write_release(root / "raw", args.train, args.test)
        print(f"wrote {args.train} + {args.test} TIFFs ({size_mb(root / 'raw'):.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        inputs = (zipped(train), zipped(test)) if args.zip else (train, test)
        out = root / "prepared"
        wall, peak = measured([sys.executable, "-m", "ldct_bench.cli", "prepare", "--train", str(inputs[0]),
                               "--test", str(inputs[1]), "--out", str(out)])
        verdict = "OK" if wall < TARGET_S and peak < TARGET_MB else "OVER TARGET"
        print(f"prepare ({'zip' if args.zip else 'folders'}): {wall:.1f} s wall, peak RSS {peak:.0f} MB, "
              f"{(args.train + args.test) / wall:.0f} images/s, output {size_mb(out):.0f} MB "
              f"[target < {TARGET_S:.0f} s and < {TARGET_MB:.0f} MB: {verdict}]")
        if args.compare:
            alt = root / "from-generator"
            wall, peak = measured([sys.executable, "-c", FROM_GENERATOR, str(train), str(test), str(alt)])
            print(f"from_generator + save_to_disk: {wall:.1f} s wall, peak RSS {peak:.0f} MB, "
                  f"disk written {size_mb(alt) + size_mb(Path(str(alt) + '.cache')):.0f} MB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
