"""PNG encoder settings for windowed 512x512 slices: CPU per image against bytes sent.

Every request carries its images as base64 PNG data URLs, so the encoder's compress level trades
client CPU (which starves the senders when requests are built on the event loop) against upload
bytes. For each Pillow setting this prints the median encode CPU per image, the mean PNG and
base64 sizes, the upload time of one image at 100 Mbit/s, and what a 300-item 35-image-per-request
run would cost, and checks every setting decodes to the same pixels (PNG is lossless at any level;
only the speed and size change). Last, whether encoding in a worker thread stalls the event loop's
thread (does the encoder release the GIL?). Slices: the synthetic generator's (ldct_bench.data.demo), or
real float32 TIFFs with --tiff DIR. The renderer (ldct_bench/data/render.py) uses
compress_level=6.

    python benchmarks/png_level.py [--slices 12] [--repeat 5] [--tiff DIR]
"""

from __future__ import annotations

import argparse
import io
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image

from ldct_bench.data import demo
from ldct_bench.data.render import window_u8

UPLINK_BIT_S = 100e6
BIG_RUN_IMAGES = 300 * 35  # k=34: 35 images a request, 300 requests
STRATEGIES = {1: "filtered", 2: "huffman only", 3: "rle"}  # zlib strategies (Pillow's compress_type)


@dataclass(frozen=True)
class Setting:
    label: str
    options: dict[str, Any]


def settings() -> list[Setting]:
    levels = [Setting(f"level {n}", {"compress_level": n}) for n in range(10)]
    extra = [Setting(f"level 1, {name}", {"compress_level": 1, "compress_type": kind})
             for kind, name in STRATEGIES.items()]
    return [*levels, *extra, Setting("optimize=True", {"optimize": True})]


def encode(image: Image.Image, options: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def load_slices(count: int, folder: Path | None) -> list[np.ndarray]:
    """Float [0, 1] slices: real TIFFs from `folder`, else the synthetic generator (varied doses and regions)."""
    if folder is not None:
        files = sorted([*folder.glob("*.tif"), *folder.glob("*.tiff")])[:count]
        if not files:
            raise SystemExit(f"png_level: no .tif/.tiff files in {folder}")
        return [tifffile.imread(path).astype(np.float32) for path in files]
    return [demo.make_slice(10_000 + seed)[0] for seed in range(count)]


def cpu_ms(image: Image.Image, options: dict[str, Any], repeat: int) -> float:
    """Median CPU milliseconds of one encode (process time: the encoder is single-threaded)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        encode(image, options)
        times.append(time.process_time() - start)
    return 1000 * statistics.median(times)


def measure(images: list[Image.Image], setting: Setting, repeat: int) -> tuple[float, float]:
    """Mean CPU ms and mean bytes per image; fails loudly if a setting ever changed a pixel."""
    sizes, times = [], []
    for image in images:
        data = encode(image, setting.options)
        if not np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(image)):
            raise SystemExit(f"png_level: {setting.label} did not round-trip")
        sizes.append(len(data))
        times.append(cpu_ms(image, setting.options, repeat))
    return statistics.fmean(times), statistics.fmean(sizes)


def wake_delays(work: Callable[[], object] | None, seconds: float = 1.5) -> list[float]:
    """How late a thread waking every millisecond gets the GIL back (sorted seconds), while another
    thread runs `work` in a loop: an encoder that holds the GIL delays it by a whole encode."""
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            work()

    worker = threading.Thread(target=busy) if work else None
    if worker:
        worker.start()
    delays, last = [], time.perf_counter()
    end = last + seconds
    while last < end:
        time.sleep(0.001)
        now = time.perf_counter()
        delays.append(now - last - 0.001)
        last = now
    stop.set()
    if worker:
        worker.join()
    return sorted(delays)


def gil_report(pixels: np.ndarray, level: int) -> str:
    """Can a worker thread encode while the event loop runs? Compares a 1 ms sleeper's wake-up delays
    with nothing else running and with a thread windowing and encoding PNGs to a BytesIO non-stop."""
    def describe(delays: list[float]) -> str:
        return f"p90 {1000 * delays[int(0.9 * len(delays))]:.2f} ms, max {1000 * delays[-1]:.1f} ms"

    quiet = wake_delays(None)
    busy = wake_delays(lambda: encode(Image.fromarray(window_u8(pixels)), {"compress_level": level}))
    holding = wake_delays(lambda: sum(range(1_000_000)))  # a C loop that keeps the GIL: what a stall looks like
    return (f"a 1 ms sleeper's wake-up delay: alone {describe(quiet)}; beside a thread encoding level {level} "
            f"PNGs ({cpu_ms(Image.fromarray(window_u8(pixels)), {'compress_level': level}, 3):.1f} ms each) "
            f"{describe(busy)}; beside a thread in a GIL-holding C loop {describe(holding)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=12, help="how many slices")
    parser.add_argument("--repeat", type=int, default=5, help="encodes per slice and setting (median taken)")
    parser.add_argument("--tiff", type=Path, help="a folder of float32 [0, 1] TIFF slices instead of synthetic ones")
    args = parser.parse_args()
    pixels = load_slices(args.slices, args.tiff)
    start = time.process_time()
    images = [Image.fromarray(window_u8(array)) for array in pixels]
    window = 1000 * (time.process_time() - start) / len(pixels)
    source = args.tiff or "synthetic generator"
    print(f"{len(images)} slices ({source}), 512x512 at W350/L40; windowing alone {window:.1f} ms CPU per slice; "
          f"raw 8-bit pixels {512 * 512 / 1024:.0f} KiB")
    rows = [(setting, *measure(images, setting, args.repeat)) for setting in settings()]
    ref_ms, ref_size = next((ms, size) for setting, ms, size in rows if setting.label == "level 6")
    print(f"{'setting':<24} {'CPU ms':>7} {'PNG KiB':>8} {'base64 KiB':>10} {'CPU/L6':>7} {'bytes/L6':>8} "
          f"{'upload ms':>9} {'k=34 run: CPU s':>15} {'MiB sent':>9}")
    for setting, ms, size in rows:
        b64 = 4 * -(-size // 3)
        print(f"{setting.label:<24} {ms:>7.1f} {size / 1024:>8.1f} {b64 / 1024:>10.1f} {ms / ref_ms:>7.2f} "
              f"{size / ref_size:>8.3f} {1000 * b64 * 8 / UPLINK_BIT_S:>9.1f} {BIG_RUN_IMAGES * ms / 1000:>15.1f} "
              f"{BIG_RUN_IMAGES * b64 / 2**20:>9.0f}")
    print(f"upload ms: one base64 image at {UPLINK_BIT_S / 1e6:.0f} Mbit/s; k=34 run: {BIG_RUN_IMAGES} images "
          "encoded one per request-image (encoding each distinct image once needs far fewer)")
    print(gil_report(pixels[0], 6))


if __name__ == "__main__":
    main()
