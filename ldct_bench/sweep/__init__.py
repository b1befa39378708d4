"""Sweeps: every point of a `-m` sweep run at once in one process, points on one endpoint sharing its limits."""
