"""Dataset versions in the registry: atomic registration, lookup, tags, lineage.

A registration is one write transaction: the version number is allocated, the content-addressed
manifest inserted (if new) and the version row written together, so a failed or killed
registration leaves no version row, and a manifest without a version is never listed as one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from airflow_mlw.exceptions import DatasetError, DatasetExistsError, DatasetNotFoundError
from airflow_mlw.registry.rows import DatasetRow, DatasetVersionRow, LineageRow, ManifestRow
from airflow_mlw.registry.versioned import Versioned

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_mlw.datasets.manifest import Manifest
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)
COUNTER_KIND = "dataset"


DATASETS = Versioned(
    "dataset", DatasetRow, DatasetVersionRow, "dataset_id", DatasetNotFoundError, DatasetError
)


@dataclass
class VersionRecord:
    """A registered dataset version as stored."""

    id: str
    name: str
    kind: str
    version: int
    definition: dict[str, Any]
    fingerprint: str
    description: str | None
    tags: dict[str, str]
    snapshot: bool
    created_at: datetime
    created: bool = field(default=False, compare=False)

    def reference(self, workspace: Workspace) -> dict[str, Any]:
        """What travels through XCom: enough to find the version again, and its content identity."""
        return {
            "workspace": workspace.name,
            "name": self.name,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "id": self.id,
        }


def check_tags(tags: dict[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise DatasetError(f"tags must be a dict of strings, not {type(tags).__name__}")
    bad = [key for key, value in tags.items() if not isinstance(key, str) or not isinstance(value, str)]
    if bad:
        raise DatasetError(f"tag {bad[0]!r} is not a string to string pair: tags must be strings")
    return dict(tags)


def _record(row: DatasetVersionRow, dataset: DatasetRow, created: bool = False) -> VersionRecord:
    return VersionRecord(
        id=row.id,
        name=dataset.name,
        kind=dataset.kind,
        version=row.version,
        definition=dict(row.definition),
        fingerprint=row.fingerprint,
        description=row.description,
        tags=dict(row.tags or {}),
        snapshot=row.snapshot,
        created_at=row.created_at,
        created=created,
    )


def _latest(session: Session, dataset_id: int) -> DatasetVersionRow | None:
    return DATASETS.latest(session, dataset_id)  # type: ignore[no-any-return]


def register_version(
    workspace: Workspace,
    name: str,
    kind: str,
    definition: dict[str, Any],
    manifest: Manifest,
    *,
    description: str | None,
    tags: dict[str, str],
    create_new_version: bool,
    snapshot: bool,
) -> VersionRecord:
    """Register ``manifest`` as the next version of ``name``, or return the latest if unchanged."""
    store = workspace.store
    ws_id = workspace._workspace_id()
    fingerprint = manifest.fingerprint
    with store.session(write=True) as session:
        dataset = DATASETS.lock_name(store, session, ws_id, name, kind=kind)
        if dataset.kind != kind:
            raise DatasetError(f"dataset {name!r} is a {dataset.kind} dataset; cannot register a {kind} one")
        latest = _latest(session, dataset.id)
        if latest is not None and not create_new_version:
            raise DatasetExistsError(
                f"dataset {name!r} already exists (latest version {latest.version}); "
                "pass create_new_version=True to register a new version"
            )
        if latest is not None and (latest.fingerprint, latest.definition) == (fingerprint, definition):
            log.info(
                "dataset %r unchanged (fingerprint %s): returning version %d",
                name,
                fingerprint[:12],
                latest.version,
            )
            return _record(latest, dataset)
        row = DATASETS.add_next_version(
            store,
            session,
            dataset,
            COUNTER_KIND,
            manifest,
            definition=definition,
            description=description,
            tags=tags,
            snapshot=snapshot,
        )
        log.info("registered dataset %r version %d (fingerprint %s)", name, row.version, fingerprint[:12])
        return _record(row, dataset, created=True)


def load_version(
    workspace: Workspace, name: str, version: int | str = "latest", as_of: datetime | None = None
) -> VersionRecord:
    """Version ``version`` of ``name``; ``latest`` with ``as_of``: the newest registered by then (a
    DAG run's start, so every step of one run reads the same version), else the oldest one."""
    with workspace.store.session() as session:
        if as_of is not None and version in (None, "latest"):
            version = _number_as_of(session, workspace, name, as_of)
        row, dataset = DATASETS.find(session, workspace, name, version)
        return _record(row, dataset)


def _number_as_of(session: Session, workspace: Workspace, name: str, as_of: datetime) -> int | str:
    rows = session.execute(
        select(DatasetVersionRow.version, DatasetVersionRow.created_at)
        .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
        .where(DatasetRow.workspace_id == workspace._workspace_id(), DatasetRow.name == name)
        .order_by(DatasetVersionRow.version.desc())
    ).all()
    cutoff = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    for number, created in rows:
        if (created if created.tzinfo else created.replace(tzinfo=UTC)) <= cutoff:
            return int(number)
    return int(rows[-1][0]) if rows else "latest"


def load_by_id(workspace: Workspace, version_id: str) -> VersionRecord:
    with workspace.store.session() as session:
        row, dataset = DATASETS.find_by_id(session, workspace, version_id)
        return _record(row, dataset)


def list_versions(workspace: Workspace, name: str) -> list[VersionRecord]:
    ws_id = workspace._workspace_id()
    with workspace.store.session() as session:
        rows = session.execute(
            select(DatasetVersionRow, DatasetRow)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetRow.workspace_id == ws_id, DatasetRow.name == name)
            .order_by(DatasetVersionRow.version)
        ).all()
    if not rows:
        raise DatasetNotFoundError(f"no dataset named {name!r} in workspace {workspace.name!r}")
    return [_record(row, dataset) for row, dataset in rows]


def list_latest(workspace: Workspace) -> list[VersionRecord]:
    """The latest version of every dataset, by name."""
    ws_id = workspace._workspace_id()
    with workspace.store.session() as session:
        latest = (
            select(DatasetVersionRow.dataset_id, func.max(DatasetVersionRow.version).label("version"))
            .group_by(DatasetVersionRow.dataset_id)
            .subquery()
        )
        rows = session.execute(
            select(DatasetVersionRow, DatasetRow)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .join(
                latest,
                (latest.c.dataset_id == DatasetVersionRow.dataset_id)
                & (latest.c.version == DatasetVersionRow.version),
            )
            .where(DatasetRow.workspace_id == ws_id)
            .order_by(DatasetRow.name)
        ).all()
    return [_record(row, dataset) for row, dataset in rows]


def load_manifest(workspace: Workspace, fingerprint: str) -> list[list[Any]]:
    with workspace.store.session() as session:
        row = session.get(ManifestRow, fingerprint)
        if row is None:
            raise DatasetNotFoundError(f"no manifest with fingerprint {fingerprint[:12]}")
        return list(row.entries)


def update_version(
    workspace: Workspace, version_id: str, description: str | None = None, tags: dict[str, str] | None = None
) -> VersionRecord:
    with workspace.store.session(write=True) as session:
        row = session.get(DatasetVersionRow, version_id)
        if row is None:
            raise DatasetNotFoundError(f"no dataset version with id {version_id!r}")
        if description is not None:
            row.description = description
        if tags is not None:
            row.tags = tags
        dataset = session.get(DatasetRow, row.dataset_id)
        assert dataset is not None
        return _record(row, dataset)


def record_lineage(
    workspace: Workspace, version_id: str, direction: str, task: tuple[str, str, str] | None
) -> None:
    """Remember which DAG run and task produced or consumed a version (no-op outside Airflow tasks)."""
    if task is None:
        return
    dag_id, dag_run_id, task_id = task
    with workspace.store.session(write=True) as session:
        session.add(
            LineageRow(
                workspace_id=workspace._workspace_id(),
                dataset_version_id=version_id,
                direction=direction,
                dag_id=dag_id,
                dag_run_id=dag_run_id,
                task_id=task_id,
            )
        )


def lineage_of(workspace: Workspace, version_id: str) -> list[dict[str, Any]]:
    with workspace.store.session() as session:
        rows = session.scalars(
            select(LineageRow).where(LineageRow.dataset_version_id == version_id).order_by(LineageRow.id)
        ).all()
        return [
            {"direction": r.direction, "dag_id": r.dag_id, "dag_run_id": r.dag_run_id, "task_id": r.task_id}
            for r in rows
        ]


def current_task() -> tuple[str, str, str] | None:
    """(dag_id, run_id, task_id) of the Airflow task running this code, or ``None``."""
    import os

    dag_id, run_id, task_id = (
        os.environ.get(k) for k in ("AIRFLOW_CTX_DAG_ID", "AIRFLOW_CTX_DAG_RUN_ID", "AIRFLOW_CTX_TASK_ID")
    )
    if dag_id and run_id and task_id:
        return dag_id, run_id, task_id
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
    except Exception:
        return None
    ti = context["ti"]
    return ti.dag_id, ti.run_id, ti.task_id
