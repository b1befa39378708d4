"""The prediction-vs-truth scatter as inline SVG: every point names its item on hover and opens its row on
click, so the outliers one sees are one click from their images."""

from __future__ import annotations

from typing import Any

from ldct_bench.run.records import Prediction
from ldct_bench.view.text import esc, num

LEFT, BOTTOM, PAD = 34, 30, 8
SCALE_MAX = 4.0


class _Frame:
    """Score to pixel on a square plot of `size` px."""

    def __init__(self, size: int):
        self.size = size

    def x(self, value: float) -> float:
        return round(LEFT + max(0.0, min(SCALE_MAX, value)) / SCALE_MAX * (self.size - LEFT - PAD), 1)

    def y(self, value: float) -> float:
        return round(self.size - BOTTOM - max(0.0, min(SCALE_MAX, value)) / SCALE_MAX * (self.size - BOTTOM - PAD), 1)


def _axes(f: _Frame) -> str:
    parts = []
    for tick in range(5):
        x, y = f.x(tick), f.y(tick)
        parts.append(f'<path d="M{x} {f.y(0)}V{f.y(4)}M{f.x(0)} {y}H{f.x(4)}" stroke="#eee"/>')
        parts.append(f'<text x="{x}" y="{f.y(0) + 13}" text-anchor="middle">{tick}</text>'
                     f'<text x="{f.x(0) - 6}" y="{y + 4}" text-anchor="end">{tick}</text>')
    parts.append(f'<path d="M{f.x(0)} {f.y(0)}L{f.x(4)} {f.y(4)}" stroke="#999" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{(f.x(0) + f.x(4)) / 2}" y="{f.size - 3}" text-anchor="middle">true score</text>'
                 f'<text transform="translate(10 {(f.y(0) + f.y(4)) / 2}) rotate(-90)" text-anchor="middle">'
                 'prediction</text>')
    return "".join(parts)


def _fit(f: _Frame, diagnostics: dict[str, Any]) -> str:
    slope, intercept = diagnostics.get("slope"), diagnostics.get("intercept")
    if slope is None or intercept is None:
        return ""
    return (f'<path d="M{f.x(0)} {f.y(intercept)}L{f.x(4)} {f.y(intercept + 4 * slope)}" stroke="#d9822b" '
            f'stroke-width="1.5"><title>least squares: prediction = {intercept:.2f} + {slope:.2f} x true</title>'
            '</path>')


def scatter_svg(records: list[Prediction], anchors: dict[str, str], diagnostics: dict[str, Any],
                caption: str, size: int = 290) -> str:
    """Scored items as points linked to their rows (`anchors`: item id -> element id); y = x dashed, the
    least-squares line solid."""
    frame, points = _Frame(size), []
    for record in records:
        if record.score is None:
            continue
        title = f"{record.id}: true {num(record.target)}, prediction {num(record.score)}"
        points.append(f'<a href="#{anchors[record.id]}"><circle cx="{frame.x(record.target)}" '
                      f'cy="{frame.y(record.score)}" r="3"><title>{esc(title)}</title></circle></a>')
    return (f'<figure class="scatter" style="width:{size}px"><svg width="{size}" height="{size}" role="img" '
            f'aria-label="prediction against true score">{_axes(frame)}{_fit(frame, diagnostics)}{"".join(points)}'
            f'</svg><figcaption>{esc(caption)}</figcaption></figure>')
