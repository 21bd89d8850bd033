"""Issue 20 figures: server time of the chart pages on a large workspace (embedded SQLite registry),
side by side with the overview page of the same workspace and a bare FastAPI route:

- the experiment page of an experiment of 1,000 runs (each: ``loss`` logged 20 times, ``acc``
  once, two tags, a property), and the JSON its two charts fetch (``compare`` last / steps);
- the run page of a 200-trial HyperDrive sweep (each trial: 10 reports of the primary metric, 40
  early-terminated), and the JSON of its two charts (``sweep`` progress / parallel).

Target: each page, with its charts' JSON, under 1 s. Server time: from the request reaching the
ASGI app to its last body byte sent (a middleware times it; Starlette's TestClient drives the app in
this process, its own time left out), median of 5; the pages' routes run as on the api-server.
"""

from __future__ import annotations

import logging
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _report import report

RUNS = 1_000
TRIALS = 200
ROUNDS = 5


def fill(ws: Any) -> str:
    """The experiment's runs and the sweep, written straight into the registry; the sweep's id."""
    from airflow_mlw.registry.rows import MetricRow, RunRow

    rng = random.Random(20)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ws_id = ws._workspace_id()
    runs: list[Any] = []
    metrics: list[Any] = []
    with ws.store.session(write=True) as session:
        for i in range(RUNS):
            run_id = f"bench-run-{i:04d}"
            created = start + timedelta(minutes=i)
            runs.append(
                RunRow(
                    id=run_id,
                    workspace_id=ws_id,
                    kind="script",
                    experiment_name="bench",
                    name="train.py",
                    status="Finished" if i % 17 else "Failed",
                    created_at=created,
                    started_at=created,
                    finished_at=created + timedelta(seconds=30 + i % 60),
                    tags={"lr": f"{0.001 * (1 + i % 10):.3f}", "batch": str(32 * (1 + i % 4))},
                    properties={"user": {"fold": str(i % 5)}},
                )
            )
            metrics.extend(
                MetricRow(
                    run_id=run_id, name="loss", kind="scalar", value=1.0 / (step + 1) + rng.random() / 10
                )
                for step in range(20)
            )
            metrics.append(MetricRow(run_id=run_id, name="acc", kind="scalar", value=rng.random()))
        sweep_id = "HD_bench"
        trials = {}
        for n in range(TRIALS):
            trial_id = f"{sweep_id}_{n}"
            stopped = n % 5 == 4
            hyperparameters = {
                "--lr": 10 ** rng.uniform(-4, -1),
                "--layers": rng.choice([1, 2, 3, 4]),
                "--act": rng.choice(["relu", "tanh"]),
            }
            values = [rng.random() * (step + 1) / 10 for step in range(4 if stopped else 10)]
            trials[trial_id] = {
                "number": n,
                "hyperparameters": hyperparameters,
                "status": "Canceled" if stopped else "Finished",
                "best_primary_metric": max(values),
                **({"canceled": "BanditPolicy at interval 4"} if stopped else {}),
            }
            runs.append(
                RunRow(
                    id=trial_id,
                    workspace_id=ws_id,
                    kind="script",
                    experiment_name="sweep",
                    parent_id=sweep_id,
                    name="train.py",
                    status=trials[trial_id]["status"],
                    started_at=start,
                    finished_at=start + timedelta(seconds=20),
                    tags={},
                    properties={},
                )
            )
            metrics.extend(MetricRow(run_id=trial_id, name="score", kind="scalar", value=v) for v in values)
        definition = {
            "primary_metric_name": "score",
            "primary_metric_goal": "MAXIMIZE",
            "policy": {"name": "Bandit"},
        }
        runs.append(
            RunRow(
                id=sweep_id,
                workspace_id=ws_id,
                kind="hyperdrive",
                experiment_name="sweep",
                name="HyperDrive train.py",
                status="Finished",
                started_at=start,
                finished_at=start + timedelta(minutes=30),
                tags={},
                properties={"hyperdrive": {"definition": definition, "trials": trials}},
            )
        )
        session.add_all(runs)
        session.flush()  # the runs before the metrics that reference them
        session.add_all(metrics)
    return sweep_id


class ServerTime:
    """ASGI middleware: the seconds from a request's arrival to its response's last body message."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - start

        await self.app(scope, receive, timed_send)


def median_time(client: Any, timer: ServerTime, path: str) -> float:
    client.get(path)  # warm: templates compiled, caches filled
    times = []
    for _ in range(ROUNDS):
        response = client.get(path)
        times.append(timer.last)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return statistics.median(times)


def page_client(ws: Any) -> tuple[Any, ServerTime, float, float]:
    """A client of the plugin's pages on ``ws`` (auth off), its timer, and the two baselines'
    median server times: a bare FastAPI route and the overview page."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_mlw.plugins.ui import router
    from airflow_mlw.workspace import Workspace

    Workspace.from_config = classmethod(lambda cls, *a, **k: ws)  # type: ignore[method-assign,assignment]
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_user] = lambda: None
    app.get("/bare")(lambda: {"ok": True})
    timer = ServerTime(app)
    client = TestClient(timer)
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # a line per request otherwise
    bare = median_time(client, timer, "/bare")
    overview = median_time(client, timer, "/ui/")
    print(f"baselines: bare FastAPI route {bare * 1000:.1f} ms, overview page {overview * 1000:.1f} ms")
    return client, timer, bare, overview


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="mlw-bench-ui-"))
    os.environ["AIRFLOW_HOME"] = str(scratch / "airflow")

    from airflow_mlw.workspace import Workspace

    ws = Workspace.create("bench", registry_url=f"sqlite:///{scratch / 'registry.db'}")
    t = time.perf_counter()
    sweep_id = fill(ws)
    print(
        f"registry filled: {RUNS} runs x 21 metrics, a {TRIALS}-trial sweep ({time.perf_counter() - t:.1f} s)"
    )
    client, timer, bare, overview = page_client(ws)
    figures = (
        (
            f"experiment page, {RUNS} runs",
            "/ui/experiments/bench",
            [
                "/ui/data/experiments/bench/compare?metric=loss&view=last",
                "/ui/data/experiments/bench/compare?metric=loss&view=steps",
            ],
        ),
        (
            f"HyperDrive run page, {TRIALS} trials",
            f"/ui/runs/{sweep_id}",
            [
                f"/ui/data/runs/{sweep_id}/sweep?view=progress",
                f"/ui/data/runs/{sweep_id}/sweep?view=parallel",
            ],
        ),
    )
    for figure, page, data in figures:
        page_time = median_time(client, timer, page)
        data_times = [median_time(client, timer, path) for path in data]
        total = page_time + sum(data_times)
        parts = " + ".join(f"{d * 1000:.0f}" for d in data_times)
        report(
            f"{figure}: page + its charts' JSON",
            f"{total * 1000:.0f} ms ({page_time * 1000:.0f} + {parts})",
            f"{overview * 1000:.1f} ms overview page ({bare * 1000:.1f} ms bare route)",
            total / overview,
            "< 1 s",
        )


if __name__ == "__main__":
    main()
