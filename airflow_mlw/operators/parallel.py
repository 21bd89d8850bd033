"""A ``ParallelRunStep`` as three tasks: plan, the mini-batches as mapped tasks, gather.

- **plan** (``<step>__plan``) decides reuse of the whole step as any step does (an unchanged
  input, script, configuration and environment: the earlier output is handed over and nothing
  else runs), makes the step's run row and pushes the shard numbers the next task is mapped over.
- **batches** (``<step>__batches``, mapped over ``node_count`` shards; at most ``node_count`` at
  once, on the compute target's queue and pool) runs the driver (``airflow_mlw.parallel_driver``)
  in the step's environment over every ``node_count``-th mini-batch. Each finished mini-batch is
  committed at once to the default datastore under ``mlw/parallel/<step key>/<batch key>``
  (its key: the step without its main input, plus the batch's items' content), so a task killed
  mid-step and retried by Airflow runs only the batches not committed yet, and a later run whose
  input changed in one file runs only the batches holding changed items.
- **gather** (``<step>``: what consumers read) concatenates the batches' rows in input order,
  commits the output atomically, applies the error thresholds over every shard, records the
  step's metrics and logs items/s, failures and the slowest batches.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.operators.script import LocalScriptOperator, MlwScriptOperator, first_line

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.execution.process import ScriptExecution
    from airflow_mlw.workspace import Workspace

ROLES = ("plan", "batches", "gather")
#: The mapped task's output folder: the driver's ``--mlw-store``, never committed as an output.
BATCHES = "mlw_batches"
SLOWEST_SHOWN = 3
#: How often the mapped task commits the batches the driver finished.
COMMIT_EVERY = 0.5


def store_prefix(salt: str) -> str:
    return f"mlw/parallel/{salt[:32]}"


class ParallelRunMixin(MlwScriptOperator):
    """The three tasks of a ParallelRunStep on one script operator (``parallel_role``)."""

    def __init__(
        self, *, parallel_role: str, parallel_step: str, mlw_shard: int | None = None, **kwargs: Any
    ) -> None:
        """:param parallel_role: ``plan``, ``batches`` or ``gather``
        :param parallel_step: the gather task's id (the step's); the others are ``<it>__plan`` and
            ``<it>__batches``
        :param mlw_shard: the mapped task's shard (``expand``)"""
        super().__init__(**kwargs)
        if parallel_role not in ROLES:
            raise ValueError(f"parallel_role must be one of {ROLES}, not {parallel_role!r}")
        self.parallel_role = parallel_role
        self.parallel_step = parallel_step
        self.mlw_shard = mlw_shard

    def _plan_task_id(self) -> str:
        return f"{self.parallel_step}__plan"

    def _batches_task_id(self) -> str:
        return f"{self.parallel_step}__batches"

    def execute(self, context: Context) -> dict[str, Any]:
        self._extra_mounts: list[tuple[str, str, bool]] = []  # the Docker subclass's mounts
        if self.parallel_role == "plan":
            # What the batches are mapped over is the return value; the rest under "plan".
            result = super().execute(context)
            context["ti"].xcom_push(key="plan", value=result)
            return result.get("shards", [])  # type: ignore[no-any-return]
        from airflow_mlw.operators.datastore import workspace_or_configured

        ws = workspace_or_configured(self.workspace)
        plan = context["ti"].xcom_pull(task_ids=self._plan_task_id(), key="plan")
        if not plan:
            raise RuntimeError(f"{self.step_name}: the plan task left no plan (it failed)")
        if self.parallel_role == "batches":
            return self._run_shard(ws, context, plan)
        result = self._gather(ws, context, plan)
        self._lineage_outputs = result.get("outputs") or {}  # the step's output is the gather's
        return result

    # -- plan ----------------------------------------------------------------------------------------

    def _shard_count(self) -> int:
        return int(self._driver_config()["node_count"])

    def _driver_config(self) -> dict[str, Any]:
        return json.loads(self.arguments[self.arguments.index("--mlw-config") + 1])  # type: ignore[no-any-return]

    def _run(self, ws: Workspace, context: Context, run_id: str) -> dict[str, Any]:
        if self.parallel_role != "plan":
            return self._run_shard_script(ws, context, run_id)
        from airflow_mlw.execution import records, reuse

        # The batches' salt: the step's key without its main input (side inputs stay in).
        document = reuse.key_document(
            ws,
            script=self.script,
            source_directory=self.source_directory,
            arguments=self.arguments,
            params=self.step_params,
            inputs=self._bound_inputs[1:],
            outputs=self.outputs,
            environment=self.environment_identity(ws),
            environment_name=self.environment_name,
            version=self.step_version,
        )
        salt = reuse.reuse_key(document)
        if not (self.allow_reuse and not self._regenerate(context)):
            # Nothing from earlier runs; a retried mapped task still keeps its own run's batches.
            salt = reuse.reuse_key({"key": {"step": salt, "dag_run": context["ti"].run_id}})
        records.set_status(ws, run_id, "Running")
        shards = list(range(self._shard_count()))
        described = self._describe_input(ws)
        self.log.info("%s: %s, in %d mapped task(s)", self.step_name, described, len(shards))
        return {"run_id": run_id, "status": "Running", "outputs": {}, "salt": salt, "shards": shards}

    def _describe_input(self, ws: Workspace) -> str:
        """The input's size as the plan logs it (a File dataset's files come from its manifest)."""
        config = self._driver_config()
        try:
            dataset = self._bound_inputs[0].dataset(ws)  # type: ignore[attr-defined]
            if dataset.kind == "file" and "files" in config["mini_batch"]:
                count = len(dataset.to_path())
                batches = -(-count // config["mini_batch"]["files"])
                return f"{count} file(s) in {batches} mini-batch(es) of {config['mini_batch']['files']}"
        except Exception as error:  # the plan only reports; the batches task reads the input
            return f"input not listed ({first_line(error)})"
        return f"a {dataset.kind} dataset, split by the mapped tasks ({config['mini_batch']})"

    # -- batches -------------------------------------------------------------------------------------

    def _run_shard(self, ws: Workspace, context: Context, plan: dict[str, Any]) -> dict[str, Any]:
        from airflow_mlw.execution import records

        self._check_compute(ws)
        self._bound_inputs = [item.bind(context) for item in self.inputs]
        self._plan = plan
        ti = context["ti"]
        shard = int(self.mlw_shard or 0)
        child = records.create_run(
            ws,
            kind="child",
            experiment_name=self.experiment_name or ti.dag_id,
            parent_id=plan["run_id"],
            name=f"{self.step_name} shard {shard + 1}/{self._shard_count()}",
            dag_id=ti.dag_id,
            dag_run_id=ti.run_id,
            task_id=ti.task_id,
            compute_target=self.compute_target,
            properties={"runDefinition": self.run_definition(), "map_index": ti.map_index},
        )
        return self._run(ws, context, child)

    def _run_shard_script(self, ws: Workspace, context: Context, run_id: str) -> dict[str, Any]:
        result = super()._run(ws, context, run_id)
        return {**result, "shard": self._report}

    def _command_arguments(self, inputs: Any, staging: dict[str, Path]) -> list[str]:
        """The driver's arguments for this shard; the keys committed so far go beside them."""
        if self.parallel_role != "batches":
            return super()._command_arguments(inputs, staging)
        store = staging[BATCHES]
        self._store = store
        # One backend (and client) for listing and committing: a new S3 client takes a second.
        self._batch_backend = backend = ws_backend(self)
        prefix = store_prefix(self._plan["salt"])
        done = [Path(info.path).stem for info in backend.list(prefix) if info.path.endswith(".txt")]
        (store / ".done").write_text("\n".join(done))
        head = self.arguments[: self.arguments.index("--")]
        if "--mlw-output" in head:
            at = head.index("--mlw-output")
            head = head[:at] + head[at + 2 :]
        shard = [
            "--mlw-store",
            f"@mlw:output:{BATCHES}@",
            "--mlw-shard",
            f"{int(self.mlw_shard or 0)}/{self._shard_count()}",
            "--mlw-salt",
            self._plan["salt"],
        ]
        tail = self.arguments[self.arguments.index("--") :]
        self.arguments = [*head, *shard, *tail]
        try:
            return super()._command_arguments(inputs, staging)
        finally:
            self.arguments = [*head, *tail]

    def run_script(
        self, ws: Workspace, execution: ScriptExecution, environ: dict[str, str], arguments: list[str]
    ) -> None:
        if self.parallel_role != "batches":
            super().run_script(ws, execution, environ, arguments)
            return
        committer = BatchCommitter(
            self._batch_backend, self._store, self._plan["salt"], progress=(ws, execution.run_id)
        )
        committer.start()
        try:
            super().run_script(ws, execution, environ, arguments)
        except Exception as error:
            fatal = (self._shard_report() or {}).get("fatal")
            if fatal:  # past the thresholds, or no run(): another try would fail the same way
                from airflow.sdk.exceptions import AirflowFailException

                raise AirflowFailException(fatal) from error
            raise
        finally:
            committer.stop()
            self._keep_entry_output(ws, execution)
        self._report = self._shard_report()

    def _shard_report(self) -> dict[str, Any] | None:
        manifest = self._store / ".shard.json"
        return json.loads(manifest.read_text()) if manifest.exists() else None

    def _keep_entry_output(self, ws: Workspace, execution: ScriptExecution) -> None:
        """What ``run()`` wrote to ``EntryScript().output_dir``, for the gather task to commit."""
        folder = self._store / ".output"
        if folder.is_dir() and any(folder.iterdir()):
            ws.get_default_datastore().upload(
                folder,
                f"mlw/run-files/{self._plan['run_id']}/entry-output",
                overwrite=True,
                show_progress=False,
            )

    def _commit_outputs(
        self, ws: Workspace, staging: dict[str, Path], ti: Any, run_id: str
    ) -> dict[str, Any]:
        if self.parallel_role == "batches":
            return {}  # committed batch by batch; the gather task commits the step's output
        return super()._commit_outputs(ws, staging, ti, run_id)

    # -- gather --------------------------------------------------------------------------------------

    def _gather(self, ws: Workspace, context: Context, plan: dict[str, Any]) -> dict[str, Any]:
        from airflow_mlw.execution import records

        if plan.get("status") == "Finished":  # the whole step was reused: handed over by the plan
            return plan
        run_id = plan["run_id"]
        ti = context["ti"]
        try:
            pulled = ti.xcom_pull(task_ids=self._batches_task_id(), map_indexes=plan["shards"])
            pulled = [pulled] if isinstance(pulled, dict) else list(pulled or [])
            reports = [r["shard"] for r in pulled if r]
            return self._commit_gathered(ws, ti, plan, reports)
        except BaseException as error:
            self._keep_logs(ws, run_id)
            records.set_status(
                ws,
                run_id,
                "Failed",
                properties={"error": first_line(error), "files": ["logs/driver_log.txt"]},
            )
            raise

    def _commit_gathered(
        self, ws: Workspace, ti: Any, plan: dict[str, Any], reports: list[dict[str, Any]]
    ) -> dict[str, Any]:
        from airflow_mlw.exceptions import ScriptFailedError
        from airflow_mlw.execution import records
        from airflow_mlw.parallel_driver import Batch, describe, over_threshold

        config = self._driver_config()
        fatal = [r["fatal"] for r in reports if r.get("fatal")]
        if fatal:
            raise ScriptFailedError(fatal[0])
        if len(reports) != self._shard_count():
            errors = "; ".join(sorted(set(self._shard_errors(ws, plan["run_id"]))))
            raise ScriptFailedError(
                f"{self._shard_count() - len(reports)} of {self._shard_count()} mapped task(s) of "
                f"{self.step_name} failed: {errors or 'see their logs'}"
            )
        batches = sorted((b for r in reports for b in r["batches"]), key=lambda b: b["index"])
        failed = []
        for entry in batches:
            if entry["error"]:
                batch = Batch(entry["index"], None, entry["count"], entry["label"])
                batch.errors.append(entry["error"])
                failed.append(batch)
        reason = over_threshold(config, failed, len(batches))
        if reason:
            raise ScriptFailedError(f"ParallelRunStep failed: {reason}; {describe(failed)}")
        backend = ws.get_default_datastore().backend
        prefix = store_prefix(plan["salt"])
        with tempfile.TemporaryDirectory(prefix="mlw-gather-") as folder:
            staging = Path(folder) / "output"
            staging.mkdir()
            self._entry_output(ws, plan["run_id"], staging)
            if config["output_action"] == "append_row":
                with open(staging / config["append_row_file_name"], "wb") as handle:
                    for entry in batches:
                        if not entry["error"]:
                            with backend.open_read(f"{prefix}/{entry['key']}.txt") as rows:
                                shutil.copyfileobj(rows, handle)
            outputs = (
                self._commit_outputs(ws, {self.outputs[0]["name"]: staging}, ti, plan["run_id"])
                if self.outputs
                else {}
            )
        items = sum(b["count"] for b in batches)
        failed_items = sum(b.count for b in failed)
        metrics = {
            "mini_batches": len(batches),
            "failed_mini_batches": len(failed),
            "items": items,
            "failed_items": failed_items,
            # Committed by an earlier try of a mapped task, or an earlier run with the same items.
            "reused_mini_batches": sum(1 for b in batches if b["reused"]),
        }
        records.add_metrics(ws, plan["run_id"], [(k, "scalar", v) for k, v in metrics.items()])
        self._log_summary(batches, failed)
        self._keep_logs(ws, plan["run_id"])
        done = len(batches) - len(failed)
        records.set_status(
            ws,
            plan["run_id"],
            "Finished",
            properties={
                "files": ["logs/driver_log.txt"],
                "progress": {"done": done, "failed": len(failed), "of": len(batches)},
            },
            outputs=outputs,
        )
        return {"run_id": plan["run_id"], "status": "Finished", "metrics": metrics, "outputs": outputs}

    @staticmethod
    def _shard_errors(ws: Workspace, run_id: str) -> list[str]:
        from sqlalchemy import select

        from airflow_mlw.registry.rows import RunRow

        with ws.store.session() as session:
            rows = session.scalars(select(RunRow).where(RunRow.parent_id == run_id)).all()
            return [str((row.properties or {}).get("error")) for row in rows if row.status == "Failed"]

    def _entry_output(self, ws: Workspace, run_id: str, staging: Path) -> None:
        datastore = ws.get_default_datastore()
        prefix = f"mlw/run-files/{run_id}/entry-output"
        for info in datastore.backend.list(prefix):
            target = staging / info.path[len(prefix) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            datastore.backend.get_file(info, target)

    def _log_summary(self, batches: list[dict[str, Any]], failed: list[Any]) -> None:
        ran = [b for b in batches if not b["reused"]]
        seconds = sum(b["seconds"] for b in ran)
        slowest = sorted(ran, key=lambda b: b["seconds"], reverse=True)[:SLOWEST_SHOWN]
        self.log.info(
            "%s: %d mini-batch(es), %d run (%d item(s), %.1f item(s)/s per process), %d reused, %d failed; "
            "slowest: %s",
            self.step_name,
            len(batches),
            len(ran),
            sum(b["count"] for b in ran),
            sum(b["count"] for b in ran) / seconds if seconds else 0.0,
            len(batches) - len(ran),
            len(failed),
            ", ".join(f"{b['index']} ({b['label']}, {b['seconds']:.2f} s)" for b in slowest) or "none",
        )

    def _keep_logs(self, ws: Workspace, run_id: str) -> None:
        """The shards' driver logs, one after the other, as the step's ``logs/driver_log.txt``."""
        from sqlalchemy import select

        from airflow_mlw.registry.rows import RunRow

        backend = ws.get_default_datastore().backend
        with ws.store.session() as session:
            children = session.scalars(
                select(RunRow.id).where(RunRow.parent_id == run_id).order_by(RunRow.created_at)
            ).all()
        with tempfile.NamedTemporaryFile("wb", suffix=".txt") as combined:
            for child in children:
                path = f"mlw/run-files/{child}/logs/driver_log.txt"
                if backend.info(path) is not None:
                    with backend.open_read(path) as part:
                        shutil.copyfileobj(part, combined)
            combined.flush()
            backend.put_file(Path(combined.name), f"mlw/run-files/{run_id}/logs/driver_log.txt")


def ws_backend(operator: MlwScriptOperator) -> Any:
    from airflow_mlw.operators.datastore import workspace_or_configured

    return workspace_or_configured(operator.workspace).get_default_datastore().backend


class BatchCommitter:
    """Copies each batch the driver finished (``<key>.txt``, renamed into place whole) from the
    mapped task's folder to the datastore while the driver runs, and once more when it ends."""

    def __init__(self, backend: Any, folder: Path, salt: str, progress: tuple[Any, str]) -> None:
        """:param progress: (workspace, run id): the run whose ``progress`` property the driver's
        counts (``{"done", "failed", "of"}``) are copied to, for the run page"""
        self.backend, self.folder, self.prefix = backend, folder, store_prefix(salt)
        self.progress, self.shown = progress, ""
        self.committed = {line for line in (folder / ".done").read_text().split() if line}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlw-batch-commit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sweep()

    def _loop(self) -> None:
        while not self._stop.wait(COMMIT_EVERY):
            self.sweep()

    def sweep(self) -> None:
        from airflow_mlw.execution.records import add_properties

        for path in self.folder.glob("*.txt"):
            if path.stem not in self.committed:
                self.backend.put_file(path, f"{self.prefix}/{path.name}")
                self.committed.add(path.stem)
        counts = self.folder / ".progress.json"
        text = counts.read_text() if counts.exists() else ""
        if text and text != self.shown:
            add_properties(*self.progress, progress=json.loads(text))
            self.shown = text


class ParallelLocalOperator(ParallelRunMixin, LocalScriptOperator):
    """A ParallelRunStep's tasks on local or cluster compute."""
