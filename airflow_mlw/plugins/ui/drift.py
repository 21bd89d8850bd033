"""The drift page's charts: each monitor's windows as the geometry of an inline SVG chart.

No chart library is needed: the template draws what :func:`chart` computes, the magnitude of every
window as a line with the threshold, and each feature's contribution as stacked bars below it. The
same series go into the page as JSON (``series``), for scripts and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Chart size (SVG user units) and the margins left for the axes' labels.
WIDTH, HEIGHT, LEFT, RIGHT, TOP = 720, 150, 44, 12, 10
BARS_HEIGHT = 110
#: Colours of the features' bars, in turn.
PALETTE = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#116329", "#0550ae")


@dataclass
class Chart:
    """One monitor's chart: points of the magnitude line, the threshold's height, stacked bars."""

    monitor: str
    threshold: float
    threshold_y: float
    top: float
    points: list[dict[str, Any]] = field(default_factory=list)
    bars: list[dict[str, Any]] = field(default_factory=list)
    legend: list[dict[str, str]] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p['x']:.1f},{p['y']:.1f}" for p in self.points if p["y"] is not None)


def chart(monitor: Any, windows: list[Any]) -> Chart:
    """The chart of ``monitor``'s ``windows`` (rows of ``mlw_drift_windows``, oldest first)."""
    features = list(monitor.feature_list or [])
    magnitudes = [w.magnitude for w in windows]
    top = max([monitor.drift_threshold, *(m for m in magnitudes if m is not None)]) * 1.1 or 1.0
    span = WIDTH - LEFT - RIGHT
    step = span / max(len(windows), 1)

    def y(value: float) -> float:
        return TOP + (HEIGHT - TOP) * (1 - value / top)

    result = Chart(monitor.name, monitor.drift_threshold, y(monitor.drift_threshold), top)
    result.legend = [{"feature": f, "colour": PALETTE[i % len(PALETTE)]} for i, f in enumerate(features)]
    for index, window in enumerate(windows):
        x = LEFT + step * (index + 0.5)
        magnitude = window.magnitude
        result.points.append(
            {
                "x": x,
                "y": None if magnitude is None else y(magnitude),
                "label": f"{window.window_start:%Y-%m-%d}",
                "magnitude": magnitude,
                "over": magnitude is not None and magnitude > window.drift_threshold,
            }
        )
        below = 0.0
        for entry in result.legend:
            share = float((window.features or {}).get(entry["feature"], {}).get("contribution", 0.0))
            height = share * BARS_HEIGHT
            result.bars.append(
                {
                    "x": x - step * 0.35,
                    "y": BARS_HEIGHT - below - height,
                    "width": step * 0.7,
                    "height": height,
                    "colour": entry["colour"],
                    "title": f"{entry['feature']} {window.window_start:%Y-%m-%d}: {share:.1%}",
                }
            )
            below += height
    result.series = {
        "monitor": monitor.name,
        "threshold": monitor.drift_threshold,
        "windows": [
            {
                "start": window.window_start.isoformat(),
                "end": window.window_end.isoformat(),
                "magnitude": window.magnitude,
                "contributions": {
                    f: (window.features or {}).get(f, {}).get("contribution", 0.0) for f in features
                },
            }
            for window in windows
        ],
    }
    return result
