"""``ParallelRunConfig`` and ``ParallelRunStep``: batch inference over a dataset (Azure's names).

The step runs ``python -m airflow_mlw.parallel_driver`` in the step's environment on its compute
target: the driver splits the input into mini-batches (a count of files for File datasets, a
size such as ``"1MB"`` for Tabular ones, one per partition with ``partition_keys``), runs the
entry script's ``init()`` once per worker process and ``run(mini_batch)`` per mini-batch in
``process_count_per_node`` processes, retries failed mini-batches up to ``run_max_try``, kills a
``run()`` that exceeds ``run_invocation_timeout``, applies the error threshold, and writes the
results (``append_row``: in input order into ``append_row_file_name``). Everything the driver
needs is in its arguments, so the step's reuse key covers the configuration.
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipelines.data import OUTPUT_MARK, PipelineData, PipelineParameter
from airflow_mlw.pipelines.steps import PipelineStep

DRIVER = "-m airflow_mlw.parallel_driver"
OUTPUT_ACTIONS = ("append_row", "summary_only")
SIZE_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?B)?\s*$"
UNITS = {None: 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


class ParallelRunConfig:
    """How a :class:`ParallelRunStep` runs (Azure's ``ParallelRunConfig``)."""

    def __init__(
        self,
        environment: Any,
        entry_script: str,
        error_threshold: int,
        output_action: str,
        compute_target: Any,
        node_count: int = 1,
        process_count_per_node: int | None = None,
        mini_batch_size: int | str | None = None,
        source_directory: str | None = None,
        description: str | None = None,
        logging_level: str = "INFO",
        run_invocation_timeout: int = 60,
        run_max_try: int = 3,
        append_row_file_name: str | None = None,
        allowed_failed_count: int | None = None,
        allowed_failed_percent: float | None = None,
        partition_keys: list[str] | None = None,
        environment_variables: dict[str, str] | None = None,
    ) -> None:
        if output_action not in OUTPUT_ACTIONS:
            raise MlwError(f"output_action must be one of {list(OUTPUT_ACTIONS)}, not {output_action!r}")
        if not entry_script or not str(entry_script).endswith(".py"):
            raise MlwError(f"entry_script must be a .py file, not {entry_script!r}")
        for name, value in (
            ("node_count", node_count),
            ("run_invocation_timeout", run_invocation_timeout),
            ("run_max_try", run_max_try),
        ):
            if not isinstance(value, int) or value < 1:
                raise MlwError(f"{name} must be a positive integer, not {value!r}")
        if process_count_per_node is not None and (
            not isinstance(process_count_per_node, int) or process_count_per_node < 1
        ):
            raise MlwError(
                f"process_count_per_node must be a positive integer, not {process_count_per_node!r}"
            )
        self.environment = environment
        self.entry_script = str(entry_script)
        self.error_threshold = int(error_threshold)
        self.output_action = output_action
        self.compute_target = compute_target
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node
        self.mini_batch_size = mini_batch_size
        self.source_directory = source_directory
        self.description = description
        self.logging_level = logging_level
        self.run_invocation_timeout = run_invocation_timeout
        self.run_max_try = run_max_try
        self.append_row_file_name = append_row_file_name or "parallel_run_step.txt"
        self.allowed_failed_count = allowed_failed_count
        self.allowed_failed_percent = allowed_failed_percent
        self.partition_keys = list(partition_keys) if partition_keys else None
        self.environment_variables = dict(environment_variables or {})

    def driver_config(self, kind: str) -> dict[str, Any]:
        """What the driver reads (JSON): the batch size in the unit of the input ``kind``."""
        return {
            "entry_script": self.entry_script,
            "mini_batch": mini_batch(self.mini_batch_size, kind, self.partition_keys),
            "error_threshold": self.error_threshold,
            "allowed_failed_count": self.allowed_failed_count,
            "allowed_failed_percent": self.allowed_failed_percent,
            "output_action": self.output_action,
            "append_row_file_name": self.append_row_file_name,
            "run_invocation_timeout": self.run_invocation_timeout,
            "run_max_try": self.run_max_try,
            "process_count_per_node": self.process_count_per_node,
            "node_count": self.node_count,
            "partition_keys": self.partition_keys,
            "logging_level": self.logging_level,
        }


def mini_batch(size: Any, kind: str, partition_keys: list[str] | None) -> dict[str, Any]:
    """``mini_batch_size`` checked against the input's kind: files for File datasets, bytes for Tabular."""
    if partition_keys:
        if size is not None:
            raise MlwError(
                "mini_batch_size and partition_keys exclude each other: one mini-batch per partition"
            )
        return {"partitions": True}
    if kind == "file":
        if size is None:
            return {"files": 10}
        text = str(size).strip()
        if not text.isdigit() or int(text) < 1:
            raise MlwError(
                f"mini_batch_size {size!r}: a File dataset is split into a number of files (e.g. 10), not a size"
            )
        return {"files": int(text)}
    if size is None:
        return {"bytes": UNITS["MB"]}
    match = re.match(SIZE_PATTERN, str(size), re.IGNORECASE)
    if not match or (match.group(2) is None and not isinstance(size, int)):
        raise MlwError(
            f"mini_batch_size {size!r}: a Tabular dataset is split by size, such as '1MB' or '100KB'"
        )
    unit = match.group(2).upper() if match.group(2) else None
    return {"bytes": max(1, int(float(match.group(1)) * UNITS[unit]))}


class ParallelRunStep(PipelineStep):
    """Batch inference over a dataset input (Azure's ``ParallelRunStep``)."""

    def __init__(
        self,
        name: str,
        parallel_run_config: ParallelRunConfig,
        inputs: list[Any],
        output: Any = None,
        side_inputs: list[Any] | None = None,
        arguments: list[Any] | None = None,
        allow_reuse: bool = True,
    ) -> None:
        if not isinstance(parallel_run_config, ParallelRunConfig):
            raise MlwError("ParallelRunStep needs a ParallelRunConfig")
        if len(inputs or []) != 1:
            raise MlwError(
                f"ParallelRunStep {name!r} takes exactly one dataset input, not {len(inputs or [])}"
            )
        config = parallel_run_config
        self.parallel_run_config = config
        self.input_kind = _input_kind(inputs[0], name)
        config.driver_config(self.input_kind)  # a mini_batch_size of the wrong kind fails here
        self.output = output
        self.side_inputs = list(side_inputs or [])
        outputs = [output] if output is not None else []
        super().__init__(
            name,
            list(inputs) + self.side_inputs,
            outputs,
            list(arguments or []),
            config.compute_target,
            None,
            {},
            config.source_directory,
            allow_reuse,
            None,
        )
        self.environment = config.environment
        if config.environment_variables and config.environment is not None:
            # Azure sets them for the step's processes: here through a copy of the environment
            # (under the same name), so they are in the spec, its hash and the reuse key.
            self.environment = config.environment.clone(config.environment.name)
            self.environment.environment_variables.update(config.environment_variables)

    def command(self) -> tuple[str, list[str]]:
        """The driver, its configuration and the data, then the entry script's own arguments."""
        config = self.parallel_run_config.driver_config(self.input_kind)
        head = ["--mlw-config", json.dumps(config, sort_keys=True), "--mlw-input", str(self.inputs[0].name)]
        if isinstance(self.output, PipelineData):
            head += ["--mlw-output", OUTPUT_MARK.format(self.output.origin.name)]
        return DRIVER, [*head, "--", *self.rendered_arguments()]


def _input_kind(item: Any, step: str) -> str:
    dataset = getattr(item, "dataset", None)
    if isinstance(dataset, PipelineParameter):
        dataset = dataset.default_value
    kind = getattr(dataset, "kind", None)
    if kind not in ("file", "tabular"):
        raise MlwError(
            f"ParallelRunStep {step!r}: the input must be a dataset (dataset.as_named_input(...)), not {item!r}"
        )
    return str(kind)
