"""Summary statistics over seeds, and whether a difference between two settings exceeds seed-to-seed spread."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # two-sided significance level of the paired test


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of the finite values; std is NaN for fewer than 2."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), (float(v.std(ddof=1)) if v.size >= 2 else math.nan)


@dataclass
class Comparison:
    """The best setting against another, paired by seed.

    n: number of seeds both settings have; diff: mean of (best - other) over those seeds, in accuracy units;
    p: two-sided p-value of the paired t-test (NaN when it cannot be computed);
    verdict: "one_seed", "identical", "constant", "within" or "beyond".
    """

    n: int
    diff: float
    p: float
    verdict: str


def compare_paired(best: dict[int, float], other: dict[int, float], alpha: float = ALPHA) -> Comparison:
    """Paired t-test (scipy.stats.ttest_rel) of ``best`` vs ``other`` over their common seeds.

    best, other: seed -> accuracy. With fewer than 2 common seeds no test is possible ("one_seed").
    When every seed shows the same difference the t statistic is undefined: "identical" (zero) or
    "constant" (same non-zero difference in every seed, i.e. no spread at all).
    """
    from scipy.stats import ttest_rel

    seeds = sorted(s for s in set(best) & set(other) if math.isfinite(best[s]) and math.isfinite(other[s]))
    a = np.array([best[s] for s in seeds], dtype=float)
    b = np.array([other[s] for s in seeds], dtype=float)
    diff = float((a - b).mean()) if seeds else math.nan
    if len(seeds) < 2:
        return Comparison(len(seeds), diff, math.nan, "one_seed")
    d = a - b
    if np.all(d == d[0]):
        return Comparison(len(seeds), diff, math.nan, "identical" if d[0] == 0 else "constant")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = float(ttest_rel(a, b).pvalue)
    return Comparison(len(seeds), diff, p, "beyond" if p < alpha else "within")


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given; NaN stays NaN and is not counted)."""
    finite = [(p, i) for i, p in enumerate(pvalues) if math.isfinite(p)]
    m = len(finite)
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(finite)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def bootstrap_ci(values, n_boot: int = 10_000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling the values, e.g. subjects)."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def chance_level(n_trials: int, n_classes: int, alpha: float = ALPHA) -> float:
    """The accuracy a random guesser exceeds with probability < ``alpha``: the smallest k / n with
    P(Binomial(n, 1 / n_classes) >= k) <= alpha (Combrisson & Jerbi 2015)."""
    from scipy.stats import binom

    if n_trials < 1:
        return math.nan
    k = int(binom.isf(alpha, n_trials, 1.0 / n_classes)) + 1
    return min(1.0, k / n_trials)


def wilcoxon_p(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired ``a`` vs ``b`` (NaN when all differences are zero
    or fewer than two pairs are finite)."""
    from scipy.stats import wilcoxon

    pairs = [(x, y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 2 or all(x == y for x, y in pairs):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(wilcoxon([x for x, _ in pairs], [y for _, y in pairs]).pvalue)
