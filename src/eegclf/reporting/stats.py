"""Summary statistics over seeds, and whether a difference between two settings exceeds seed-to-seed spread;
over subjects: the t interval, binomial chance levels and the exact Wilcoxon signed-rank test."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

ALPHA = 0.05  # two-sided significance level of the paired test


P_FLOOR = 0.001  # p-values below it are printed as "< 0.001": three decimals would round them to 0.000


def format_p(p: float) -> str:
    """A p-value as every report prints it: ``0.012``, ``< 0.001`` (never ``0.000``), ``–`` when undefined."""
    if p is None or not math.isfinite(p):
        return "–"
    return f"< {P_FLOOR:g}" if p < P_FLOOR else f"{p:.3f}"


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


def t_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` (e.g. one accuracy per subject): mean ± t(n-1) · sd / √n.
    NaN for fewer than 2 finite values. With 12 subjects it covers the population mean about 95 % of the time
    (tests/test_reporting.py simulates it); a percentile bootstrap covers about 91 %."""
    from scipy.stats import t

    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if v.size < 2:
        return math.nan, math.nan
    half = float(t.ppf(0.5 + level / 2, v.size - 1)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return float(v.mean()) - half, float(v.mean()) + half


def chance_count(n_trials: int, n_classes: int, alpha: float = ALPHA) -> int:
    """The smallest number of correct trials k with P(Binomial(n, 1 / n_classes) >= k) <= ``alpha``
    (n + 1 when even all n correct is not that rare): reaching k correct is significant at ``alpha``.
    Exact integer arithmetic, so no rounding decides a boundary."""
    if n_trials < 1:
        return 1
    limit = Fraction(str(alpha)) * n_classes**n_trials
    k, tail = n_trials + 1, 0  # tail: number of equally likely outcomes with >= k correct, times n_classes**n
    for j in range(n_trials, -1, -1):
        tail += math.comb(n_trials, j) * (n_classes - 1) ** (n_trials - j)
        if tail > limit:
            break
        k = j
    return k


def chance_level(n_trials: int, n_classes: int, alpha: float = ALPHA) -> float:
    """The accuracy that is significant at ``alpha`` against a random guesser: ``chance_count / n`` (capped
    at 1), the smallest k / n with P(Binomial(n, 1 / n_classes) >= k) <= ``alpha`` (Combrisson & Jerbi 2015).
    Reaching it counts as above chance."""
    if n_trials < 1:
        return math.nan
    return min(1.0, chance_count(n_trials, n_classes, alpha) / n_trials)


WILCOXON_METHOD = ("exact two-sided Wilcoxon signed-rank test on per-subject accuracy: subjects with a zero "
                   "difference are dropped, tied absolute differences get their mean rank, and the p-value is "
                   "the exact share of the 2^n sign flips whose rank sum lies at least as far from its mean")


def wilcoxon_p(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired ``a`` vs ``b``, computed exactly (see WILCOXON_METHOD).

    ``a``, ``b``: exact numbers (ints or :class:`fractions.Fraction`, e.g. correct / trials); floats are taken
    at their exact binary value, so pass fractions where equal values must compare equal. Zero differences
    are dropped (Wilcoxon's rule), tied absolute differences get mid-ranks, and the null distribution of the
    positive rank sum is enumerated for those ranks (no normal approximation, no tie correction needed):
    the same numbers give the same p-value on every scipy version. NaN when fewer than two pairs are
    finite or every difference is zero."""
    pairs = [(Fraction(x), Fraction(y)) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    d = [x - y for x, y in pairs if x != y]
    if len(pairs) < 2 or not d:
        return math.nan
    mags = sorted(abs(v) for v in d)
    rank2: dict = {}  # |difference| -> twice its mid-rank (an integer)
    i = 0
    while i < len(mags):
        j = i
        while j + 1 < len(mags) and mags[j + 1] == mags[i]:
            j += 1
        rank2[mags[i]] = (i + 1) + (j + 1)
        i = j + 1
    ranks = [rank2[abs(v)] for v in d]
    total = sum(ranks)
    observed = abs(2 * sum(r for r, v in zip(ranks, d) if v > 0) - total)
    counts = np.zeros(total + 1, dtype=object)  # counts[s]: sign flips whose positive rank sum (x2) is s
    counts[0] = 1
    for r in ranks:
        shifted = np.zeros_like(counts)
        shifted[r:] = counts[: total + 1 - r]
        counts = counts + shifted
    extreme = sum(int(c) for s, c in enumerate(counts) if abs(2 * s - total) >= observed)
    return float(Fraction(extreme, 2 ** len(d)))
