"""Lookups shared by the named, integer-versioned objects of the registry (datasets, models)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airflow_mlw.registry.rows import ManifestRow, utcnow
from airflow_mlw.registry.store import owned_row

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_mlw.datasets.manifest import Manifest
    from airflow_mlw.registry.store import RegistryStore
    from airflow_mlw.workspace import Workspace


def save_manifest(store: RegistryStore, session: Session, manifest: Manifest) -> None:
    """The manifest's row, once per fingerprint (concurrent registrations of the same content too)."""
    store.insert_ignore(
        session,
        ManifestRow,
        fingerprint=manifest.fingerprint,
        file_count=len(manifest.entries),
        total_bytes=manifest.total_bytes,
        entries=manifest.to_json(),
        created_at=utcnow(),
    )


@dataclass(frozen=True)
class Versioned:
    """One kind: its name table, its version table, and the errors its lookups raise.

    :param what: the kind's name in messages (``dataset``, ``model``)
    :param parent: the name table (``workspace_id``, ``name``)
    :param version: the version table (``version`` and a foreign key ``parent_key`` to ``parent``)
    :param not_found: raised for an unknown name, version or id
    :param bad_version: raised for a version that is neither an integer nor ``latest``
    """

    what: str
    parent: Any
    version: Any
    parent_key: str
    not_found: type[Exception]
    bad_version: type[Exception]

    def lock_name(
        self, store: RegistryStore, session: Session, workspace_id: int, name: str, **fields: Any
    ) -> Any:
        """The name row (made when missing), locked until commit: registrations of one name are
        serialised, so "unchanged since the latest version?" is decided once."""
        store.insert_ignore(
            session, self.parent, workspace_id=workspace_id, name=name, created_at=utcnow(), **fields
        )
        return session.scalars(
            select(self.parent)
            .where(self.parent.workspace_id == workspace_id, self.parent.name == name)
            .with_for_update()
        ).one()

    def add_next_version(
        self,
        store: RegistryStore,
        session: Session,
        parent: Any,
        counter_kind: str,
        manifest: Manifest,
        **fields: Any,
    ) -> Any:
        """The next version of ``parent`` (locked by :meth:`lock_name`) holding ``manifest``: the
        manifest row once per fingerprint, the number from the atomic counter, the version row."""
        save_manifest(store, session, manifest)
        number = store.allocate_version(session, counter_kind, parent.workspace_id, parent.name)
        row = self.version(
            **{self.parent_key: parent.id},
            version=number,
            fingerprint=manifest.fingerprint,
            manifest_fingerprint=manifest.fingerprint,
            **fields,
        )
        session.add(row)
        session.flush()
        return row

    def latest(self, session: Session, parent_id: int) -> Any:
        return session.scalar(
            select(self.version)
            .where(getattr(self.version, self.parent_key) == parent_id)
            .order_by(self.version.version.desc())
            .limit(1)
        )

    def find(
        self, session: Session, workspace: Workspace, name: str, version: int | str | None
    ) -> tuple[Any, Any]:
        """(version row, name row) of ``name`` at ``version`` (``None`` or ``latest``: the newest)."""
        parent = session.scalar(
            select(self.parent).where(
                self.parent.workspace_id == workspace._workspace_id(), self.parent.name == name
            )
        )
        if parent is None:
            raise self.not_found(f"no {self.what} named {name!r} in workspace {workspace.name!r}")
        if version in (None, "latest"):
            row = self.latest(session, parent.id)
        else:
            try:
                number = int(version)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise self.bad_version(
                    f"{self.what} version must be an integer or 'latest', not {version!r}"
                ) from None
            row = session.scalar(
                select(self.version).where(
                    getattr(self.version, self.parent_key) == parent.id, self.version.version == number
                )
            )
        if row is None:
            raise self.not_found(
                f"{self.what} {name!r} has no version {version} in workspace {workspace.name!r}"
            )
        return row, parent

    def find_by_id(self, session: Session, workspace: Workspace, version_id: str) -> tuple[Any, Any]:
        """(version row, name row) of a version id of this workspace."""
        row = session.get(self.version, version_id)
        parent = (
            owned_row(session, self.parent, getattr(row, self.parent_key), workspace._workspace_id())
            if row is not None
            else None
        )
        if row is None or parent is None:
            raise self.not_found(
                f"no {self.what} version with id {version_id!r} in workspace {workspace.name!r}"
            )
        return row, parent
