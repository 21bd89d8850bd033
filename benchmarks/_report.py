"""One benchmark figure, for people and for ``benchmarks/run_all.py``.

:func:`report` prints the figure's line and, when ``$MLW_BENCH_RESULTS`` names a file, appends the
figure to it as one JSON object per line; ``run_all.py`` sets that variable for each script it
runs and prints every figure in one table. Scripts import it as ``from _report import report``
(a script's own folder is first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
from typing import Any

RESULTS_ENV = "MLW_BENCH_RESULTS"


def report(
    figure: str,
    ours: str,
    baseline: str,
    ratio: float | None,
    target: str,
    line: str | None = None,
) -> dict[str, Any]:
    """Print one figure and record it.

    :param figure: what is measured, e.g. ``"parse 50-step pipeline vs 50 BashOperators"``
    :param ours: this project's figure with its unit, e.g. ``"412 ms"``
    :param baseline: the plain-Airflow / plain-library figure with its unit, or ``"-"``
    :param ratio: the ratio the target is about (the figure says which way round), or ``None``
    :param target: the target, e.g. ``"<= 1.3"``
    :param line: the script's own line to print instead of the generic one; ``""`` prints nothing
        (the figure is on a line printed already)
    """
    result = {"figure": figure, "ours": ours, "baseline": baseline, "ratio": ratio, "target": target}
    ratio_text = "" if ratio is None else f", ratio {ratio:.2f}"
    if line != "":
        print(
            line if line is not None else f"{figure}: {ours} vs {baseline}{ratio_text} [{target}]", flush=True
        )
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps(result) + "\n")
    return result


def with_docker_engine(measure: Any) -> None:
    """Run ``measure()`` with the Docker engine and the base image of the tests (the engine is
    started here when it is not running, and then stopped again)."""
    from tests.services import DockerEngine

    engine = DockerEngine().start()
    try:
        engine.ensure_base_image()
        measure()
    finally:
        engine.stop()  # only if it was started here
