"""The ML Workspace UI's drift page: each monitor's magnitude over time with its threshold, and the
per-feature contribution, as Vega-Lite charts (the vendored library, no network) whose data is the
monitor's windows; drawn by Chromium from the plugin's app on a real HTTP server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow_mlw.datadrift import DataDriftDetector
from tests.datadrift.conftest import WEEKS
from tests.plugins.ui.conftest import browser, open_charts, ui_server  # noqa: F401  (fixtures)

#: What a chart drew: its threshold dataset, its points (one symbol per window; legends left out),
#: their colours and heights (y grows downwards), the threshold rule's height, and its bars.
DRAWN = """
(name) => {
  const view = window.mlwCharts.views[name];
  const box = document.querySelector(`.mlw-chart-view[data-chart="${name}"]`);
  const points = [...box.querySelectorAll("g.mark-symbol.role-mark path")];
  const rule = box.querySelector("g.mark-rule.role-mark line");
  const y = (el) => el.getBoundingClientRect().top + el.getBoundingClientRect().height / 2;
  return {
    threshold: name.startsWith("drift-magnitude-") ? view.data("threshold") : null,
    points: points.map((p) => ({fill: p.getAttribute("fill"), y: y(p)})),
    rule: rule ? rule.getBoundingClientRect().top : null,
    bars: box.querySelectorAll("g.mark-rect.role-mark path").length,
  };
}
"""


def test_the_drift_page_charts_magnitude_threshold_and_contributions(
    workspace: Any,
    datasets: dict[str, Any],
    dags_folder: Path,
    ui_server: str,  # noqa: F811  (the fixture imported above)
    browser: Any,  # noqa: F811
) -> None:
    monitor = DataDriftDetector.create_from_datasets(
        workspace, "ui-drift", datasets["baseline"], datasets["target"], drift_threshold=0.3
    )
    page, charts = open_charts(browser, f"{ui_server}/ui/datadrift")
    assert "no window computed yet" in page.inner_text("main") and charts == {}
    page.close()

    monitor.backfill(WEEKS[0], WEEKS[5] + timedelta(days=7))
    page, charts = open_charts(browser, f"{ui_server}/ui/datadrift", screenshot="datadrift.png")
    assert page.locator("nav a.current").inner_text() == "Data drift"
    results, _ = monitor.get_output()
    magnitude = charts[f"drift-magnitude-{monitor.id}"]
    contribution = charts[f"drift-contribution-{monitor.id}"]
    assert magnitude["state"] == contribution["state"] == "drawn", (magnitude["error"], contribution["error"])

    # The magnitude chart's rows are the six windows, as the monitor reports them.
    assert [row["magnitude"] for row in magnitude["rows"]] == [r["drift_magnitude"] for r in results]
    assert [row["over"] for row in magnitude["rows"]] == [False] * 3 + [True] * 3  # weeks 4 to 6 drifted
    drawn = page.evaluate(DRAWN, f"drift-magnitude-{monitor.id}")
    assert drawn["threshold"] == [{"threshold": 0.3}]
    assert len(drawn["points"]) == 6
    assert [p["fill"] for p in drawn["points"]] == ["#0969da"] * 3 + ["#cf222e"] * 3
    assert all(p["y"] > drawn["rule"] for p in drawn["points"][:3]), "under the threshold: below its rule"
    assert all(p["y"] < drawn["rule"] for p in drawn["points"][3:]), "over the threshold: above its rule"

    # The contribution chart: one bar segment per window and feature, the monitor's shares.
    bars = page.evaluate(DRAWN, f"drift-contribution-{monitor.id}")
    assert len(contribution["rows"]) == 6 * 3 and bars["bars"] == 6 * 3
    week4 = {row["feature"]: row["contribution"] for row in contribution["rows"][9:12]}
    assert week4 == {name: results[3]["features"][name]["contribution"] for name in ("age", "bmi", "colour")}
    assert {row["start"][:10] for row in contribution["rows"][9:12]} == {WEEKS[3].date().isoformat()}
