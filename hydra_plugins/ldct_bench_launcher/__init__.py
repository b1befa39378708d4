"""ldct-bench's Hydra launcher, where Hydra looks for plugins (the class itself is ldct_bench.sweep.launcher's)."""

from ldct_bench.sweep.launcher import ConcurrentLauncher as _ConcurrentLauncher


class ConcurrentLauncher(_ConcurrentLauncher):
    """All points of a sweep at once in one process; see ldct_bench/sweep/launcher.py."""
