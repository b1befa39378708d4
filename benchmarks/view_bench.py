"""`ldct-bench view` on a 300-item run and on 300 items x 3 runs: build time, size on disk, load time in
headless Chromium.

    python benchmarks/view_bench.py [--out DIR] [--screenshots DIR] [--loads 3]

Three runs against the local stub on a synthetic 300-item task (120 train): A few-shot k=10 with a 400
fault every 60 requests (failed items), B error feedback k=5, C few-shot k=3 with scoring=expected and
repeats=2. Each page is built from nothing (`ldct-bench view`, wall time). Load time: a copy of the page,
beside it, carries a script that records, at the load event, performance.now() and the navigation entry's
DOMContentLoaded end, then times a sort (by id) and a filter (band 3-4) with a forced layout after each,
and whether the page is wider than the 1400-px window; Chromium's --dump-dom prints the DOM after load and
the figures are read from it. The wall time of the whole Chromium process (start-up included) is printed
beside them.
Needs `chromium` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import bench_task, scratch, stub_model_args, stub_server, timed_run

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            "--window-size=1400,1000"]
TIMING = """<script>addEventListener('load', () => {
  const nav = performance.getEntriesByType('navigation')[0], load = performance.now();
  const change = (id, value) => { const el = document.getElementById(id); el.value = value;
    el.dispatchEvent(new Event('change')); return document.body.offsetHeight; };
  let t = performance.now(); change('sort', 'id'); const sort = performance.now() - t;
  t = performance.now(); change('band', '3-4'); const filter = performance.now() - t;
  const wide = document.documentElement.scrollWidth > innerWidth;
  document.body.dataset.timing = JSON.stringify({dcl: nav.domContentLoadedEventEnd, load, sort, filter, wide});
});</script>"""
RUNS = {
    "A": ["strategy=few_shot", "shots=10"],
    "B": ["strategy=error_feedback", "shots=5"],
    "C": ["strategy=few_shot", "shots=3", "scoring=expected", "model.logprobs=true", "repeats=2",
          "model.temperature=0.7"],
}
FAULTS = ",".join(["ok"] * 59 + ["400"])


def make_runs(root: Path) -> dict[str, Path]:
    """The three 300-item runs (kept in `root` between calls: a run dir with results.json is reused)."""
    task = bench_task()
    dirs = {name: root / f"run-{name}" for name in RUNS}
    todo = [name for name, d in dirs.items() if not (d / "results.json").exists()]
    if todo:
        with stub_server(faults=FAULTS) as url:
            for name in todo:
                wall, results = timed_run([*stub_model_args(url), "task=ldct_iqa", f"task.path={task}", *RUNS[name],
                                           "cache.mode=off", f"hydra.run.dir={dirs[name]}"])
                print(f"run {name}: {results['n_scored']}/{results['n']} scored, {results['n_failed']} failed, "
                      f"{wall:.1f} s", flush=True)
    return dirs


def view(args: list[str]) -> tuple[float, Path]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ldct_bench.cli", "view", *args], check=True, capture_output=True,
                          text=True)
    return time.perf_counter() - started, Path(done.stdout.strip().splitlines()[-1])


def size(folder: Path) -> dict[str, float]:
    """MiB on disk of the page, the thumbnails and the full renderings, and the number of picture files."""
    def mib(paths: list[Path]) -> float:
        return sum(p.stat().st_size for p in paths) / 2**20
    return {"html": mib([folder / "index.html"]), "thumbs": mib(list((folder / "thumbs").glob("*.png"))),
            "images": mib(list((folder / "images").glob("*.png"))),
            "files": len(list(folder.glob("*/*.png")))}


def chromium(url: str, *extra: str) -> tuple[float, str]:
    profile = tempfile.mkdtemp(prefix="view-bench-chromium-")
    try:
        started = time.perf_counter()
        done = subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", *extra, url], capture_output=True, text=True,
                              timeout=120)
        return time.perf_counter() - started, done.stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# What the page's choices save, measured by undoing them: details in the live page instead of <template>s,
# and row thumbnails as plain loading="lazy" images instead of loaded by the page's script near the window.
VARIANTS: dict[str, Callable[[str], str]] = {
    "details in the live page": lambda text: text.replace("<template>", "").replace("</template>", ""),
    "row thumbnails loading=lazy": lambda text: text.replace("<img class='thumb' data-src=",
                                                             "<img class='thumb' loading='lazy' src="),
}


def load_times(page: Path, loads: int, change: Callable[[str], str] = lambda text: text) -> dict[str, float]:
    """Median over `loads` fresh Chromium processes of the in-page figures (ms) and the process wall (s)."""
    timed = page.with_name("_timing.html")
    timed.write_text(change(page.read_text(encoding="utf-8")).replace("</body>", TIMING + "</body>"),
                     encoding="utf-8")
    try:
        samples = []
        for _ in range(loads):
            wall, dom = chromium(timed.as_uri(), "--dump-dom")
            found = re.search(r'data-timing="([^"]+)"', dom)
            if found is None:
                raise SystemExit("chromium printed no timing; is the page's script failing?")
            samples.append({**json.loads(found.group(1).replace("&quot;", '"')), "wall": wall})
    finally:
        timed.unlink()
    return {**{key: statistics.median(s[key] for s in samples) for key in samples[0] if key != "wide"},
            "wide": any(s["wide"] for s in samples)}


def report(name: str, seconds: float, page: Path, loads: int) -> None:
    disk, timing = size(page.parent), load_times(page, loads)
    print(f"{name}: built in {seconds:.2f} s; on disk {disk['html']:.2f} MiB html + {disk['thumbs']:.2f} MiB "
          f"thumbnails + {disk['images']:.2f} MiB full renderings ({disk['files']} picture files); in Chromium "
          f"(median of {loads}): DOMContentLoaded {timing['dcl']:.0f} ms, load {timing['load']:.0f} ms, "
          f"sort {timing['sort']:.0f} ms, filter {timing['filter']:.0f} ms; whole chromium --dump-dom "
          f"{timing['wall']:.2f} s; sideways scroll at 1400 px: {'YES' if timing['wide'] else 'none'}", flush=True)


def report_variants(page: Path, loads: int) -> None:
    """The same page with one of its choices undone, loaded alternately with the page as built."""
    for label, change in VARIANTS.items():
        built, changed = [], []
        for _ in range(loads):  # alternating, so both see the same machine load
            built.append(load_times(page, 1)["dcl"])
            changed.append(load_times(page, 1, change)["dcl"])
        print(f"  {label}: DOMContentLoaded {statistics.median(changed):.0f} ms, the page as built "
              f"{statistics.median(built):.0f} ms (medians of {loads}, alternating)", flush=True)


def screenshots(pages: dict[str, Path], folder: Path) -> None:
    """Each page at 1400x1000 as it opens, with its first (worst) row clicked open, with that row's thumbnail
    clicked (the enlarged rendering), and with 'failed only' ticked; the clicks go through the page's own
    handlers."""
    folder.mkdir(parents=True, exist_ok=True)
    clicks = {"": "", "-opened": "#items tbody tr.main", "-enlarged": "#items tbody img.thumb", "-failed": "#failed"}
    for name, page in pages.items():
        for suffix, target in clicks.items():
            shown = page.with_name("_shot.html")
            click = f"<script>document.querySelector('{target}').click();</script>" if target else ""
            shown.write_text(page.read_text(encoding="utf-8").replace("</body>", click + "</body>"), encoding="utf-8")
            chromium(shown.as_uri(), f"--screenshot={folder / f'{name}{suffix}.png'}")
            shown.unlink()
        print(f"screenshots: {', '.join(str(folder / f'{name}{suffix}.png') for suffix in clicks)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, help="keep the runs and pages here (default: a fresh scratch folder)")
    parser.add_argument("--screenshots", type=Path, help="also write 1400x1000 screenshots into this folder")
    parser.add_argument("--loads", type=int, default=3)
    args = parser.parse_args()
    root = args.out or scratch()
    dirs = make_runs(root)
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)
    pages = {}
    for name, runs in (("one-run", "A"), ("two-runs", "AB"), ("three-runs", "ABC")):
        out = dirs["A"] / "view" if len(runs) == 1 else root / f"view-{runs}"
        shutil.rmtree(out, ignore_errors=True)  # built from nothing: every thumbnail and rendering written
        seconds, pages[name] = view([*(str(dirs[run]) for run in runs), "--out", str(out)])
        report(f"{' + '.join(runs)}, 300 items", seconds, pages[name], args.loads)
        if name == "one-run":
            report_variants(pages[name], args.loads)
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)
    if args.screenshots:
        screenshots(pages, args.screenshots)


if __name__ == "__main__":
    main()
