"""The radiologists' 0-4 quality scale and its categories (by floor of the score)."""

from __future__ import annotations

import math

CATEGORIES = ["Bad", "Poor", "Fair", "Good", "Excellent"]
MIN_SCORE, MAX_SCORE = 0.0, 4.0


def category_of(score: float) -> int:
    """Category index: [0,1) Bad, [1,2) Poor, [2,3) Fair, [3,4) Good, 4 Excellent."""
    return min(max(int(math.floor(score + 1e-9)), 0), 4)
