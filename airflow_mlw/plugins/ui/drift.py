"""The drift page's charts: each monitor's windows as two Vega-Lite specs, drawn by the pages'
``charts.js`` (the vendored Vega, no network): the magnitude of every window over time with the
monitor's threshold, and each feature's contribution to every window as stacked bars.

The windows are the specs' ``rows`` datasets, so the page carries them as JSON and the chart's view
gives them back (``mlwCharts.views[name].data("rows")``).
"""

from __future__ import annotations

from typing import Any

#: The windows' colours: under and over the threshold.
UNDER, OVER = "#0969da", "#cf222e"
#: Both charts put each window at its start date, in order (evenly, as Azure's drift charts do).
WINDOW_AXIS = {
    "field": "window",
    "type": "ordinal",
    "sort": None,
    "title": "window start",
    "axis": {"labelAngle": 0},
}


def magnitude_rows(windows: list[Any]) -> list[dict[str, Any]]:
    """One row per window (rows of ``mlw_drift_windows``, oldest first) that has a magnitude."""
    return [
        {
            "start": window.window_start.isoformat(),
            "end": window.window_end.isoformat(),
            "window": f"{window.window_start:%Y-%m-%d}",
            "magnitude": window.magnitude,
            "threshold": window.drift_threshold,
            "over": window.magnitude > window.drift_threshold,
        }
        for window in windows
        if window.magnitude is not None
    ]


def contribution_rows(features: list[str], windows: list[Any]) -> list[dict[str, Any]]:
    """One row per window and feature: the feature's share of the window's drift."""
    return [
        {
            "start": window.window_start.isoformat(),
            "window": f"{window.window_start:%Y-%m-%d}",
            "feature": feature,
            "contribution": float((window.features or {}).get(feature, {}).get("contribution", 0.0)),
        }
        for window in windows
        for feature in features
    ]


def magnitude_spec(monitor: Any, windows: list[Any]) -> dict[str, Any]:
    """Magnitude over time (line and points, red over the threshold) and the threshold (dashed rule)."""
    rows = magnitude_rows(windows)
    x = WINDOW_AXIS
    y = {"field": "magnitude", "type": "quantitative", "title": "drift magnitude"}
    return {
        "rows": rows,
        "spec": {
            "width": "container",
            "height": 200,
            "datasets": {"rows": rows, "threshold": [{"threshold": monitor.drift_threshold}]},
            "data": {"name": "rows"},
            "config": {"view": {"stroke": None}},
            "layer": [
                {"mark": {"type": "line", "color": UNDER, "strokeWidth": 2}, "encoding": {"x": x, "y": y}},
                {
                    "mark": {"type": "point", "filled": True, "size": 70, "opacity": 1},
                    "encoding": {
                        "x": x,
                        "y": y,
                        "color": {
                            "field": "over",
                            "type": "nominal",
                            "title": "window",
                            "scale": {"domain": [False, True], "range": [UNDER, OVER]},
                            "legend": {
                                "labelExpr": "datum.label == 'true' ? 'over threshold' : 'under threshold'"
                            },
                        },
                        "tooltip": [
                            {"field": "start", "type": "temporal", "title": "from", "format": "%Y-%m-%d"},
                            {"field": "end", "type": "temporal", "title": "to", "format": "%Y-%m-%d"},
                            {"field": "magnitude", "type": "quantitative", "format": ".3f"},
                        ],
                    },
                },
                {
                    "data": {"name": "threshold"},
                    "layer": [
                        {
                            "mark": {"type": "rule", "color": OVER, "strokeDash": [6, 4]},
                            "encoding": {"y": {"field": "threshold", "type": "quantitative"}},
                        },
                        {
                            "mark": {"type": "text", "align": "right", "dy": -6, "color": OVER, "x": "width"},
                            "encoding": {
                                "y": {"field": "threshold", "type": "quantitative"},
                                "text": {"value": f"threshold {monitor.drift_threshold}"},
                            },
                        },
                    ],
                },
            ],
        },
    }


def contribution_spec(monitor: Any, windows: list[Any]) -> dict[str, Any]:
    """Each window's drift split by feature: stacked bars, one colour per feature."""
    features = list(monitor.feature_list or [])
    rows = contribution_rows(features, windows)
    return {
        "rows": rows,
        "spec": {
            "width": "container",
            "height": 160,
            "datasets": {"rows": rows},
            "data": {"name": "rows"},
            "config": {"view": {"stroke": None}, "range": {"category": {"scheme": "tableau10"}}},
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "x": WINDOW_AXIS,
                "y": {
                    "field": "contribution",
                    "type": "quantitative",
                    "stack": "zero",
                    "title": "share of drift",
                },
                "color": {"field": "feature", "type": "nominal", "sort": features, "title": "feature"},
                "order": {"field": "feature"},
            },
        },
    }
