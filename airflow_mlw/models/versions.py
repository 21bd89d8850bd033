"""Model versions in the registry: atomic registration, lookup, lineage.

Like dataset versions: integer versions allocated with the shared version counter, a content
fingerprint over the file manifest, and re-registering the content of the latest version returns
that version. A version's files live, content-addressed, at ``mlw/models/<name>/<fingerprint>/`` on
the default datastore; ``location`` in the row names them (and keeps Azure's free-form
``properties``, which have no column of their own).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airflow_mlw.exceptions import ModelNotFoundError, WebserviceException
from airflow_mlw.naming import registered_name_problem
from airflow_mlw.registry.rows import (
    LineageRow,
    ModelRow,
    ModelVersionRow,
)
from airflow_mlw.registry.versioned import Versioned

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_mlw.datasets.manifest import Manifest
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)
COUNTER_KIND = "model"


MODELS = Versioned("model", ModelRow, ModelVersionRow, "model_id", ModelNotFoundError, WebserviceException)


@dataclass
class ModelVersionRecord:
    """A registered model version as stored."""

    id: str
    name: str
    version: int
    fingerprint: str
    location: dict[str, Any]
    description: str | None
    tags: dict[str, str]
    run_id: str | None
    dataset_version_ids: list[str]
    created_at: datetime
    created: bool = field(default=False, compare=False)

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.location.get("properties") or {})

    def reference(self) -> dict[str, Any]:
        """What travels through XCom."""
        return {"name": self.name, "version": self.version, "id": self.id, "fingerprint": self.fingerprint}


def check_name(name: str) -> str:
    problem = registered_name_problem(name, "model")
    if problem:
        raise WebserviceException(problem)
    return name


def _record(row: ModelVersionRow, model: ModelRow, created: bool = False) -> ModelVersionRecord:
    return ModelVersionRecord(
        id=row.id,
        name=model.name,
        version=row.version,
        fingerprint=row.fingerprint,
        location=dict(row.location),
        description=row.description,
        tags=dict(row.tags or {}),
        run_id=row.run_id,
        dataset_version_ids=list(row.dataset_version_ids or []),
        created_at=row.created_at,
        created=created,
    )


def _latest(session: Session, model_id: int) -> ModelVersionRow | None:
    return MODELS.latest(session, model_id)  # type: ignore[no-any-return]


def register_version(
    workspace: Workspace,
    name: str,
    manifest: Manifest,
    location: dict[str, Any],
    *,
    description: str | None,
    tags: dict[str, str],
    run_id: str | None,
    dataset_version_ids: list[str],
    task: tuple[str, str, str] | None,
) -> ModelVersionRecord:
    """Record ``manifest`` (files already copied to ``location``) as the next version of ``name``,
    or return the latest version when it has the same fingerprint."""
    store = workspace.store
    ws_id = workspace._workspace_id()
    fingerprint = manifest.fingerprint
    with store.session(write=True) as session:
        model = MODELS.lock_name(store, session, ws_id, name)
        latest = _latest(session, model.id)
        if latest is not None and latest.fingerprint == fingerprint:
            log.info(
                "model %r unchanged (fingerprint %s): version %d", name, fingerprint[:12], latest.version
            )
            return _record(latest, model)
        row = MODELS.add_next_version(
            store,
            session,
            model,
            COUNTER_KIND,
            manifest,
            location=location,
            description=description,
            tags=tags,
            run_id=run_id,
            dataset_version_ids=dataset_version_ids,
        )
        if run_id is not None or task is not None:
            dag_id, dag_run_id, task_id = task or (None, None, None)
            session.add(
                LineageRow(
                    workspace_id=ws_id,
                    model_version_id=row.id,
                    direction="produced",
                    run_id=run_id,
                    dag_id=dag_id,
                    dag_run_id=dag_run_id,
                    task_id=task_id,
                )
            )
        log.info("registered model %r version %d (fingerprint %s)", name, row.version, fingerprint[:12])
        return _record(row, model, created=True)


def load_version(workspace: Workspace, name: str, version: int | str | None = None) -> ModelVersionRecord:
    """Version ``version`` of model ``name`` (``None`` or ``'latest'``: the newest)."""
    with workspace.store.session() as session:
        row, model = MODELS.find(session, workspace, name, version)
        return _record(row, model)


def load_by_id(workspace: Workspace, version_id: str) -> ModelVersionRecord:
    with workspace.store.session() as session:
        row, model = MODELS.find_by_id(session, workspace, version_id)
        return _record(row, model)


def list_versions(
    workspace: Workspace, name: str | None = None, run_id: str | None = None, latest: bool = False
) -> list[ModelVersionRecord]:
    """Versions by name, newest first (``latest``: only each name's newest)."""
    ws_id = workspace._workspace_id()
    query = (
        select(ModelVersionRow, ModelRow)
        .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
        .where(ModelRow.workspace_id == ws_id)
        .order_by(ModelRow.name, ModelVersionRow.version.desc())
    )
    if name is not None:
        query = query.where(ModelRow.name == name)
    if run_id is not None:
        query = query.where(ModelVersionRow.run_id == run_id)
    with workspace.store.session() as session:
        rows = session.execute(query).all()
    records = [_record(row, model) for row, model in rows]
    if not latest:
        return records
    newest: dict[str, ModelVersionRecord] = {}
    for record in records:
        newest.setdefault(record.name, record)
    return list(newest.values())


def update_tags(workspace: Workspace, version_id: str, tags: dict[str, str]) -> None:
    with workspace.store.session(write=True) as session:
        row = session.get(ModelVersionRow, version_id)
        if row is None:
            raise ModelNotFoundError(f"no model version with id {version_id!r}")
        row.tags = tags


def lineage_of(workspace: Workspace, version_id: str) -> list[dict[str, Any]]:
    with workspace.store.session() as session:
        rows = session.scalars(
            select(LineageRow).where(LineageRow.model_version_id == version_id).order_by(LineageRow.id)
        ).all()
        return [
            {
                "direction": r.direction,
                "run_id": r.run_id,
                "dag_id": r.dag_id,
                "dag_run_id": r.dag_run_id,
                "task_id": r.task_id,
            }
            for r in rows
        ]
