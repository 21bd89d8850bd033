"""Per-feature drift is exactly the scipy calls; the magnitude is the mean of the features' scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from airflow_mlw.datadrift.statistics import CATEGORICAL, NUMERIC, feature_kind, window_drift
from tests.datadrift.conftest import frame


def test_numeric_features_are_wasserstein_and_ks_of_scipy() -> None:
    baseline, target = frame(500, seed=1), frame(300, seed=2, shift=0.5)
    drift = window_drift(baseline, target, ["age", "bmi"])
    for name in ("age", "bmi"):
        feature = drift.features[name]
        ks = stats.ks_2samp(baseline[name].to_numpy(), target[name].to_numpy())
        assert feature.kind == NUMERIC
        assert feature.statistics == {
            "wasserstein_distance": stats.wasserstein_distance(baseline[name], target[name]),
            "ks_statistic": ks.statistic,
            "ks_pvalue": ks.pvalue,
        }
        assert feature.score == ks.statistic


def test_categorical_features_are_jensen_shannon_and_chi2_of_scipy() -> None:
    baseline, target = frame(500, seed=1), frame(300, seed=2, shift=1.0)
    drift = window_drift(baseline, target, ["colour"])
    counts = pd.concat([baseline["colour"].value_counts(), target["colour"].value_counts()], axis=1).fillna(0)
    counts = counts.sort_index().to_numpy().T
    chi2 = stats.chi2_contingency(counts)
    feature = drift.features["colour"]
    assert feature.kind == CATEGORICAL
    assert feature.statistics == pytest.approx(
        {
            "jensen_shannon_distance": jensenshannon(counts[0], counts[1], base=2),
            "chi2_statistic": chi2.statistic,
            "chi2_pvalue": chi2.pvalue,
        },
        rel=1e-12,
    )
    assert 0.3 < feature.score <= 1


def test_magnitude_is_the_mean_score_and_contributions_add_up() -> None:
    baseline, target = frame(500, seed=1), frame(300, seed=2, shift=1.0)
    drift = window_drift(baseline, target, ["age", "bmi", "colour"])
    scores = [drift.features[name].score for name in ("age", "bmi", "colour")]
    assert drift.magnitude == pytest.approx(np.mean(scores))
    assert sum(f.contribution for f in drift.features.values()) == pytest.approx(1.0)
    assert drift.features["age"].contribution == pytest.approx(scores[0] / sum(scores))
    assert drift.exceeds(0.3) and not window_drift(baseline, frame(300, seed=3), ["age"]).exceeds(0.3)


def test_an_empty_window_has_no_magnitude() -> None:
    baseline = frame(50, seed=1)
    drift = window_drift(baseline, baseline.iloc[0:0], ["age"])
    assert drift.magnitude is None and drift.features == {} and not drift.exceeds(0.0)


def test_booleans_and_text_are_categorical() -> None:
    assert feature_kind(pd.Series([True, False])) == CATEGORICAL
    assert feature_kind(pd.Series(["a", "b"])) == CATEGORICAL
    assert feature_kind(pd.Series([1, 2])) == NUMERIC


def test_email_alerts_are_the_smtp_providers_notifier() -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from airflow_mlw.datadrift import AlertConfiguration

    alert = AlertConfiguration("ops@example.com", smtp_conn_id="smtp_ops")
    drift = {
        "monitor": "m",
        "window_start": "2025-03-03",
        "window_end": "2025-03-10",
        "magnitude": 0.5,
        "threshold": 0.3,
        "contributions": {"age{x}": 1.0},
    }
    notifier = alert.make_notifier(drift)
    assert isinstance(notifier, SmtpNotifier)
    assert notifier.to == ["ops@example.com"] and notifier.smtp_conn_id == "smtp_ops"
    assert "magnitude 0.500 > 0.3" in notifier.subject and "age{x}: 100.0%" in notifier.html_content
    assert AlertConfiguration.from_json(alert.to_json()).email_addresses == ["ops@example.com"]  # type: ignore[union-attr]
