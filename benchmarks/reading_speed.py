"""How long the reader takes on absurd and very long replies (a regular expression that backtracks would take
minutes): the replies the test suite checks for a clean failure, timed here.

    python benchmarks/reading_speed.py
"""

from __future__ import annotations

import time

from ldct_bench.reading.answer import AnswerError, parse_answer

ABSURD = {"[ x5000": "[" * 5000, "{ x5000": "{" * 5000, 'nested {"a": x3000': '{"a":' * 3000 + "1" + "}" * 3000,
          "<think> x20000": "<think>" * 20000, "1 x100000": "1" * 100000, "Score x20000": "Score " * 20000,
          "0-4 x30000": "0-4 " * 30000}
LONG = ("Noise near 0.004, liver at 55 HU, W350/L40, 512x512, 5 mm slices; streaks are faint. " * 2400
        + "\n\nScore: 2.3\nCategory: Fair\n" + "{not json " * 500)


def timed(reply: str) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        outcome = f"score {parse_answer(reply).score}"
    except AnswerError as exc:
        outcome = f"fails: {exc}"
    return time.perf_counter() - started, outcome


def main() -> None:
    for name, reply in [*ABSURD.items(), ("200 KB of prose, then a score", LONG)]:
        seconds, outcome = timed(reply)
        print(f"{name:<32} {len(reply):>7} chars  {seconds * 1000:8.1f} ms  {outcome[:60]}")


if __name__ == "__main__":
    main()
