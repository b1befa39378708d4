"""The offline run viewer: a page per run (or several side by side) with every test item, its image and what
the model said, that opens from file:// with nothing fetched from anywhere."""

from pathlib import Path

FOLDER = "view"  # the page's folder inside the (first) run dir, unless --out says otherwise
PAGE = "index.html"


def page_of(run_dir: Path) -> Path:
    """Where `ldct-bench view RUN_DIR` writes the run's page (the leaderboard links it when it is there)."""
    return Path(run_dir) / FOLDER / PAGE
