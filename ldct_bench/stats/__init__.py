"""The metrics stage: the challenge's correlations, their intervals, and paired comparisons of two runs."""
