"""A scoring service's registry row (``mlw_webservices``): claimed, loaded, saved and forgotten."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import WebserviceException

if TYPE_CHECKING:
    from airflow_mlw.workspace import Workspace


def row_query(session: Any, workspace: Workspace, name: str) -> Any:
    from sqlalchemy import select

    from airflow_mlw.registry.rows import WebserviceRow

    return session.scalar(
        select(WebserviceRow).where(
            WebserviceRow.workspace_id == workspace._workspace_id(), WebserviceRow.name == name
        )
    )


def load_row(workspace: Workspace, name: str) -> dict[str, Any]:
    with workspace.store.session() as session:
        row = row_query(session, workspace, name)
        if row is None:
            raise WebserviceException(f"no service named {name!r} in workspace {workspace.name!r}")
        return {column: getattr(row, column) for column in row.__table__.columns.keys()}


def claim_name(workspace: Workspace, name: str, target_name: str | None) -> None:
    """The service's row, in state ``Transitioning``; a name already taken is an error."""
    from sqlalchemy.exc import IntegrityError

    from airflow_mlw.registry.rows import WebserviceRow

    taken = WebserviceException(
        f"a service named {name!r} already exists in workspace {workspace.name!r}; "
        "pass overwrite=True to replace it, or choose another name"
    )
    try:
        with workspace.store.session(write=True) as session:
            if row_query(session, workspace, name) is not None:
                raise taken
            session.add(
                WebserviceRow(
                    workspace_id=workspace._workspace_id(),
                    name=name,
                    compute_target=target_name,
                    state="Transitioning",
                    model_version_ids=[],
                    config={},
                )
            )
    except IntegrityError:
        raise taken from None


def save_row(workspace: Workspace, name: str, **fields: Any) -> None:
    from airflow_mlw.registry.rows import utcnow

    with workspace.store.session(write=True) as session:
        row = row_query(session, workspace, name)
        if row is None:
            return
        for key, value in fields.items():
            setattr(row, key, value)
        row.updated_at = utcnow()


def forget_row(workspace: Workspace, name: str) -> None:
    from sqlalchemy import delete

    from airflow_mlw.registry.rows import WebserviceRow

    with workspace.store.session(write=True) as session:
        session.execute(
            delete(WebserviceRow).where(
                WebserviceRow.workspace_id == workspace._workspace_id(), WebserviceRow.name == name
            )
        )
