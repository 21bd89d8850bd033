"""A notifier that records its calls in a JSON-lines file instead of sending anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow.sdk import BaseNotifier


class RecordingNotifier(BaseNotifier):
    """Appends ``{"dag_id", "dag_run_id", "drift"}`` of every call to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def notify(self, context: Any) -> None:
        call = {
            "dag_id": context["dag_run"].dag_id,
            "dag_run_id": context["dag_run"].run_id,
            "drift": context["mlw_drift"],
        }
        with open(self.path, "a") as handle:
            handle.write(json.dumps(call) + "\n")

    @staticmethod
    def calls(path: str | Path) -> list[dict[str, Any]]:
        file = Path(path)
        return [json.loads(line) for line in file.read_text().splitlines()] if file.is_file() else []
