"""Published results on the LDCT-IQA 2023 test set (300 images), shown beside local runs, never mixed up with them.

Challenge rows: Lee et al., Medical Image Analysis 99:103343 (2025). LMM rows: Celik et al. (2025), LMM-IQA,
tables 3 and 4 (full dataset: 1000 train / 300 test). The paper's tables 1 and 2 scored only 10 test images
and are left out: they are not comparable with a 300-image run.
"""

from __future__ import annotations

from ldct_bench.run.results import Results

CHALLENGE = "LDCT-IQA 2023 challenge (Lee et al. 2025)"
PAPER = "LMM-IQA paper (Celik et al. 2025)"
TASK = "ldct_iqa"

# (model, strategy, shots, metadata, plcc, srocc, krocc, overall, source)
_ROWS = [
    ("challenge winner (agaldran, Swin-T + ResNeXt)", "trained", None, "-", 0.9491, 0.9495, 0.8440, 2.7427, CHALLENGE),
    ("challenge 2nd (RPI_AXIS, MANIQA)", "trained", None, "-", 0.9434, 0.9414, 0.7995, 2.6843, CHALLENGE),
    ("SNR baseline", "no learning", None, "-", 0.8226, 0.8748, 0.7052, 2.4026, CHALLENGE),
    ("BRISQUE", "no learning", None, "-", 0.7500, 0.7863, 0.5856, 2.1219, CHALLENGE),
    ("o3", "error_feedback", 5, "region_noise", 0.8122, 0.8180, 0.6347, 2.2649, f"{PAPER}, table 4"),
    ("o3", "few_shot", 34, "region_noise", 0.8137, 0.8051, 0.6347, 2.2535, f"{PAPER}, table 4"),
    ("o3", "few_shot", 34, "none", 0.7399, 0.7255, 0.5503, 2.0156, f"{PAPER}, table 4"),
    ("o3", "few_shot", 10, "none", 0.6863, 0.6854, 0.5127, 1.8844, f"{PAPER}, table 3"),
    ("gemini-2.5-pro", "few_shot", 10, "none", 0.6758, 0.6906, 0.5093, 1.8757, f"{PAPER}, table 3"),
    ("gpt-4o", "few_shot", 10, "none", 0.6781, 0.6709, 0.4996, 1.8486, f"{PAPER}, table 3"),
    ("llama-4-maverick", "few_shot", 10, "none", 0.4765, 0.4591, 0.3261, 1.2616, f"{PAPER}, table 3"),
    ("gpt-4o-mini", "few_shot", 10, "none", 0.3808, 0.3664, 0.2733, 1.0205, f"{PAPER}, table 3"),
    ("gemma-3", "few_shot", 10, "none", 0.0677, 0.0400, 0.0300, 0.1378, f"{PAPER}, table 3"),
]


def published_results() -> list[Results]:
    """The rows as results (no CIs, coverage or cost were published)."""
    return [Results(task=TASK, model=model, strategy=strategy, shots=shots, metadata=metadata, source=source,
                    metrics={"plcc": plcc, "srocc": srocc, "krocc": krocc, "overall": overall})
            for model, strategy, shots, metadata, plcc, srocc, krocc, overall, source in _ROWS]
