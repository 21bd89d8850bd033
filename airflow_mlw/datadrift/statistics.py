"""Per-feature drift between a baseline and one target window, and the window's drift magnitude.

Every statistic is a scipy call, never hand-rolled:

- numeric feature: ``scipy.stats.wasserstein_distance`` and ``scipy.stats.ks_2samp``;
- categorical feature (anything not numeric, and booleans): ``scipy.spatial.distance.jensenshannon``
  of the two category frequency vectors (base 2) and ``scipy.stats.chi2_contingency`` of the
  2 x categories count table.

The **score** of a feature is a number in [0, 1] comparable across kinds: the KS statistic for a
numeric feature (the largest gap between the two empirical CDFs), the Jensen-Shannon distance for a
categorical one. The window's **drift magnitude** is the mean of the features' scores, and a
feature's **contribution** is its share of their sum (contributions add up to 1 when any feature
drifted). A magnitude above the monitor's ``drift_threshold`` raises its alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift: its kind, score in [0, 1], contribution and the scipy statistics."""

    name: str
    kind: str
    score: float
    statistics: dict[str, float]
    contribution: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "score": self.score, "contribution": self.contribution, **self.statistics}


@dataclass(frozen=True)
class WindowDrift:
    """A window's drift: the magnitude (``None`` without target rows) and each feature's drift."""

    magnitude: float | None
    features: dict[str, FeatureDrift] = field(default_factory=dict)
    baseline_rows: int = 0
    target_rows: int = 0

    def exceeds(self, threshold: float) -> bool:
        return self.magnitude is not None and self.magnitude > threshold


def feature_kind(column: pandas.Series) -> str:
    """``numeric`` for number columns (not booleans), else ``categorical``."""
    from pandas.api import types

    if types.is_bool_dtype(column) or not types.is_numeric_dtype(column):
        return CATEGORICAL
    return NUMERIC


def numeric_drift(name: str, baseline: Any, target: Any) -> FeatureDrift:
    """Wasserstein distance and two-sample KS test of two numeric samples (NaNs dropped)."""
    from scipy import stats

    ks = stats.ks_2samp(baseline, target)
    return FeatureDrift(
        name,
        NUMERIC,
        float(ks.statistic),
        {
            "wasserstein_distance": float(stats.wasserstein_distance(baseline, target)),
            "ks_statistic": float(ks.statistic),
            "ks_pvalue": float(ks.pvalue),
        },
    )


def categorical_drift(name: str, baseline: pandas.Series, target: pandas.Series) -> FeatureDrift:
    """Jensen-Shannon distance of the category frequencies and the chi-squared test of the counts."""
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    base_counts = baseline.astype(str).value_counts()
    target_counts = target.astype(str).value_counts()
    categories = sorted(set(base_counts.index) | set(target_counts.index))
    table = np.array(
        [
            base_counts.reindex(categories, fill_value=0).to_numpy(),
            target_counts.reindex(categories, fill_value=0).to_numpy(),
        ]
    )
    distance = float(jensenshannon(table[0], table[1], base=2))
    if len(categories) > 1:
        chi2 = stats.chi2_contingency(table)
        chi2_statistic, chi2_pvalue = float(chi2.statistic), float(chi2.pvalue)
    else:  # one category on both sides: nothing to test, nothing drifted
        chi2_statistic, chi2_pvalue = 0.0, 1.0
    return FeatureDrift(
        name,
        CATEGORICAL,
        distance,
        {"jensen_shannon_distance": distance, "chi2_statistic": chi2_statistic, "chi2_pvalue": chi2_pvalue},
    )


def feature_drift(name: str, baseline: pandas.Series, target: pandas.Series) -> FeatureDrift:
    """The drift of one feature; its kind is the baseline column's."""
    if feature_kind(baseline) == NUMERIC and feature_kind(target) == NUMERIC:
        return numeric_drift(
            name,
            baseline.dropna().to_numpy(dtype="float64", copy=False),
            target.dropna().to_numpy(dtype="float64", copy=False),
        )
    return categorical_drift(name, baseline.dropna(), target.dropna())


def window_drift(baseline: pandas.DataFrame, target: pandas.DataFrame, features: list[str]) -> WindowDrift:
    """The drift of ``features`` between the baseline and one target window (module docstring)."""
    if len(target) == 0 or len(baseline) == 0:
        return WindowDrift(None, {}, len(baseline), len(target))
    drifts = [feature_drift(name, baseline[name], target[name]) for name in features]
    total = sum(drift.score for drift in drifts)
    with_shares = {
        drift.name: FeatureDrift(
            drift.name, drift.kind, drift.score, drift.statistics, drift.score / total if total else 0.0
        )
        for drift in drifts
    }
    magnitude = total / len(drifts) if drifts else None
    return WindowDrift(magnitude, with_shares, len(baseline), len(target))
