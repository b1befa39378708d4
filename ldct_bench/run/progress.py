"""Progress of a run on the terminal: one bar per stage, with the dollars spent so far."""

from __future__ import annotations

from tqdm.auto import tqdm


class StageBar:
    """A tqdm bar for one stage of one run."""

    def __init__(self, label: str, total: int, done: int):
        self._bar = tqdm(total=total, initial=done, desc=label, unit="item", dynamic_ncols=True)

    def advance(self, spent: float | None) -> None:
        self._bar.update(1)
        if spent is not None:
            self._bar.set_postfix(cost=f"${spent:.4f}", refresh=False)

    def close(self) -> None:
        self._bar.close()
