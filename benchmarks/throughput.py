"""Throughput of the real command, end to end, against the concurrency limit.

Each case starts `python -m ldct_bench model=openai-compatible ... task=ldct_iqa` as a subprocess
(300 test items of a synthetic task built once by `common.bench_task`, `cache.mode=off` so every
item is sent, `logger=none`) against an asyncio stand-in server (benchmarks/standin_server.py, its
own process) that answers after a fixed latency and logs every request. Then a bare aiohttp
client replays the bodies the command sent, at the same concurrency, to show the server and the
loopback are not the bottleneck. Every figure comes from the server's log or the kernel:

- limit: C / latency requests per second (what C senders that never wait could reach);
  "ratio" = requests / request phase / limit, where the request phase runs from the first
  request's arrival to the last answer's departure. With N items at most N / (ceil(N/C) * C)
  is reachable (whole waves of C): the "best" column (0.94 for 300 items at C=32).
- in flight: peak and time-averaged number of requests the server held (of C).
- CPU ms/req: the command's user+sys CPU (os.wait4) over its requests, "all" for the whole
  process (start-up and teardown included), "phase" for the request phase alone (sampled
  from /proc/PID/stat); "server" is the stand-in's CPU over the same requests.
- start-up: process start to first request in; teardown: last answer out to process exit.

    python benchmarks/throughput.py [--quick] [--case zero-shot|k10|k34 ...] [--items N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from common import bench_task, scratch

SERVER = Path(__file__).resolve().with_name("standin_server.py")
KEY_ENV = "BENCH_STANDIN_KEY"
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Case:
    name: str
    shots: int  # 0 = zero-shot
    concurrency: int
    latency_s: float


CASES = {case.name: case for case in (Case("zero-shot", 0, 32, 0.2), Case("k10", 10, 32, 1.0),
                                      Case("k34", 34, 16, 2.0))}


@dataclass(frozen=True)
class Phase:
    """The request phase as the server logged it."""

    requests: int
    first_in: float
    last_out: float
    peak: int
    mean: float
    body_mib: float

    @property
    def seconds(self) -> float:
        return self.last_out - self.first_in

    def ratio(self, case: Case) -> float:
        return self.requests / self.seconds / (case.concurrency / case.latency_s)


def phase_of(rows: list[list[float]]) -> Phase:
    """Phase bounds, peak and mean requests in flight from [arrived, read, answered, bytes] rows."""
    if not rows:
        raise SystemExit("throughput: the stand-in server logged no request; see the command's output above")
    first, last = min(r[0] for r in rows), max(r[2] for r in rows)
    events = sorted([(r[0], 1) for r in rows] + [(r[2], -1) for r in rows])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    busy = sum(r[2] - r[0] for r in rows)
    return Phase(len(rows), first, last, peak, busy / (last - first), sum(r[3] for r in rows) / len(rows) / 2**20)


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) * TICK_S


@contextlib.contextmanager
def standin(latency_s: float, keep: int, *extra: str) -> Iterator[tuple[str, int]]:
    """The stand-in server in its own process (`extra`: more of its flags); yields its base URL and pid."""
    proc = subprocess.Popen([sys.executable, str(SERVER), "--latency", str(latency_s), "--keep", str(keep), *extra],
                            stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip().rsplit(" ", 1)[-1], proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def control(url: str, path: str, post: bool = False) -> bytes:
    root = url.removesuffix("/v1")
    with urllib.request.urlopen(urllib.request.Request(root + path, method="POST" if post else "GET")) as reply:
        return reply.read()


@dataclass
class Exit:
    """How the command's process went: when it started and ended, its CPU, sampled CPU over time."""

    started: float
    ended: float = 0.0
    cpu_s: float = 0.0
    status: int = 0
    samples: list[tuple[float, float]] | None = None
    peak_rss_mib: float = 0.0

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds spent between two instants, from the /proc samples (linear between samples)."""
        def at(moment: float) -> float:
            before = [s for s in self.samples if s[0] <= moment] or self.samples[:1]
            after = [s for s in self.samples if s[0] >= moment] or self.samples[-1:]
            (t0, c0), (t1, c1) = before[-1], after[0]
            return c0 if t1 == t0 else c0 + (c1 - c0) * (moment - t0) / (t1 - t0)
        return at(end) - at(start)


def run_command(args: list[str], env: dict[str, str], cwd: Path) -> Exit:
    """Run `python -m ldct_bench ARGS`, sampling its CPU every 20 ms; its output goes to cwd/command.log."""
    with open(cwd / "command.log", "wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "ldct_bench", *args], env=env, cwd=cwd,
                                stdout=log, stderr=subprocess.STDOUT)
    run = Exit(started, samples=[(started, 0.0)])

    def reap() -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        run.ended, run.status = time.monotonic(), os.waitstatus_to_exitcode(status)
        run.cpu_s = usage.ru_utime + usage.ru_stime
        run.peak_rss_mib = usage.ru_maxrss / 1024  # kilobytes on Linux

    waiter = threading.Thread(target=reap)
    waiter.start()
    while waiter.is_alive():
        cpu = proc_cpu_s(proc.pid)
        if cpu is not None:
            run.samples.append((time.monotonic(), cpu))
        time.sleep(0.02)
    waiter.join()
    proc.returncode = run.status  # reaped above: keep Popen from waiting again
    run.samples.append((run.ended, run.cpu_s))
    if run.status != 0:
        tail = (cwd / "command.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"throughput: the command exited with {run.status}:\n{tail}")
    return run


def command_args(case: Case, url: str, task: Path, items: int, run_dir: Path) -> list[str]:
    strategy = ["strategy=zero_shot"] if case.shots == 0 else ["strategy=few_shot", f"shots={case.shots}"]
    return ["model=openai-compatible", f"model.base_url={url}", "model.model_id=standin",
            f"model.api_key_env={KEY_ENV}",
            f"model.concurrency={case.concurrency}", "task=ldct_iqa", f"task.path={task}", *strategy,
            f"limit={items}", "cache.mode=off", "logger=none", f"hydra.run.dir={run_dir}"]


def command_env(root: Path, store: Path) -> dict[str, str]:
    return {**os.environ, KEY_ENV: "bench", "LDCT_BENCH_CARDS": "", "LDCT_BENCH_CACHE": str(root / "cache"),
            "LDCT_BENCH_DATA": str(store), "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}


async def bare_client(url: str, bodies: list[bytes], count: int, concurrency: int) -> None:
    """Send `count` requests (cycling through `bodies`) with `concurrency` senders that never wait."""
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    sent = iter(range(count))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        async def sender() -> None:
            for index in sent:
                async with session.post(f"{url}/chat/completions", data=bodies[index % len(bodies)],
                                        headers=headers) as reply:
                    reply.raise_for_status()
                    await reply.read()
        await asyncio.gather(*(sender() for _ in range(concurrency)))


def scored(run_dir: Path) -> int:
    lines = (run_dir / "predictions.jsonl").read_text().splitlines()
    return sum(1 for line in lines if json.loads(line)["score"] is not None)


@dataclass
class Figures:
    case: Case
    items: int
    real: Phase
    bare: Phase
    run: Exit
    server_cpu_s: float
    scored: int
    load: float

    def row(self) -> str:
        case, real, run = self.case, self.real, self.run
        best = self.items / (math.ceil(self.items / case.concurrency) * case.concurrency)
        phase_cpu = run.cpu_between(real.first_in, real.last_out)
        return (f"{case.name:<9} {self.items:>5} {case.concurrency:>3} {case.latency_s:>5.1f} {real.body_mib:>6.2f} "
                f"{real.requests / real.seconds:>6.1f} {case.concurrency / case.latency_s:>6.1f} "
                f"{real.ratio(case):>5.2f} {best:>5.2f} {self.bare.ratio(case):>5.2f} "
                f"{real.peak:>3}/{real.mean:>5.1f} {1000 * run.cpu_s / real.requests:>6.1f} "
                f"{1000 * phase_cpu / real.requests:>6.1f} {1000 * self.server_cpu_s / real.requests:>6.1f} "
                f"{real.first_in - run.started:>6.2f} {run.ended - real.last_out:>6.2f} "
                f"{self.items - self.scored:>4} {self.load:>5.2f}")


HEADER = ("case      items   C   lat  MiB/r  req/s  limit ratio  best  bare peak/mean "
          "cpu/r  phase server start-up teardown fail load1")


def measure(case: Case, items: int, task: Path, root: Path, store: Path) -> Figures:
    """One case: the real command, then the bare client with the bodies it sent, on one stand-in server."""
    load = os.getloadavg()[0]
    run_dir = root / case.name
    run_dir.mkdir(parents=True)
    with standin(case.latency_s, keep=case.concurrency) as (url, server_pid):
        server_before = proc_cpu_s(server_pid)
        run = run_command(command_args(case, url, task, items, run_dir / "run"), command_env(root, store), run_dir)
        server_cpu = proc_cpu_s(server_pid) - server_before
        real_rows = json.loads(control(url, "/_log"))["rows"]
        real = phase_of(real_rows)
        kept = [control(url, f"/_bodies/{i}") for i in range(min(case.concurrency, real.requests))]
        control(url, "/_reset", post=True)
        asyncio.run(bare_client(url, kept, real.requests, case.concurrency))
        bare_rows = json.loads(control(url, "/_log"))["rows"]
        bare = phase_of(bare_rows)
    (run_dir / "timeline.json").write_text(json.dumps({  # for a closer look: where the gaps are
        "started": run.started, "ended": run.ended, "cpu_samples": run.samples,
        "command_rows": real_rows, "bare_rows": bare_rows}))
    return Figures(case, items, real, bare, run, server_cpu, scored(run_dir / "run"), load)


def warm_up(task: Path, root: Path, store: Path) -> None:
    """One small untimed run, so the first case does not pay for a cold page cache."""
    (root / "warm-up").mkdir()
    with standin(0.0, keep=0) as (url, _):
        run_command(command_args(CASES["zero-shot"], url, task, 2, root / "warm-up" / "run"),
                    command_env(root, store), root / "warm-up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(CASES), help="run only this case (repeatable)")
    parser.add_argument("--items", type=int, default=300, help="test items per case (the task has 300)")
    parser.add_argument("--quick", action="store_true", help="smoke run: two waves of requests per case")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case, one row each (the machine is shared)")
    parser.add_argument("--no-warm-up", action="store_true", help="skip the untimed warm-up run")
    args = parser.parse_args()
    if not 1 <= args.items <= 300:
        parser.error(f"--items {args.items}: the benchmark task has 300 test items; give 1 to 300")
    task = bench_task()
    store, root = task.parent / "store", scratch()
    if not args.no_warm_up:
        warm_up(task, root, store)
    print(f"{os.cpu_count()} cores; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"runs in {root}")
    print(HEADER, flush=True)
    for name in args.case or list(CASES):
        case = CASES[name]
        items = min(args.items, 2 * case.concurrency) if args.quick else args.items
        for attempt in range(args.repeat):
            print(measure(case, items, task, root / f"run{attempt}", store).row(), flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; per-case timelines: "
          f"{root}/runN/CASE/timeline.json, the command's output: {root}/runN/CASE/command.log")
    print("ratio = req/s / limit, limit = C / latency; best = whole waves of C; bare = the same bodies from a bare "
          "aiohttp client; peak/mean = requests in flight at the server; cpu/r, phase, server = CPU ms per request "
          "(command whole run, command during the request phase, stand-in server); start-up, teardown in s")


if __name__ == "__main__":
    main()
