"""Environment versions in the registry; the curated ``MLW-*`` environments exist in every workspace."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from airflow_mlw.environments.curated import is_azureml_name, resolve_azureml_name
from airflow_mlw.environments.spec import CURATED, Environment, curated_environment
from airflow_mlw.exceptions import MlwEnvironmentError
from airflow_mlw.naming import registered_name_problem
from airflow_mlw.registry.rows import EnvironmentRow, EnvironmentVersionRow, utcnow

log = logging.getLogger(__name__)
COUNTER_KIND = "environment"


def register_environment(workspace: Any, env: Environment) -> Environment:
    """The existing version when the spec did not change, else the next one."""
    problem = registered_name_problem(env.name, "environment")
    if problem:
        raise MlwEnvironmentError(problem)
    store = workspace.store
    ws_id = workspace._workspace_id()
    spec, digest = env.spec(), env.spec_hash
    runtime = env.python.conda_dependencies.runtime_pip_packages()
    if runtime and not env.name.startswith("MLW-"):
        log.info(
            "environment %r: pip packages %s need no install (the airflow_mlw runtime is mounted "
            "into every run) and are not part of the spec hash",
            env.name,
            " ".join(runtime),
        )
    with store.session(write=True) as session:
        store.insert_ignore(session, EnvironmentRow, workspace_id=ws_id, name=env.name, created_at=utcnow())
        row = session.scalars(
            select(EnvironmentRow)
            .where(EnvironmentRow.workspace_id == ws_id, EnvironmentRow.name == env.name)
            .with_for_update()
        ).one()
        latest = session.scalar(
            select(EnvironmentVersionRow)
            .where(EnvironmentVersionRow.environment_id == row.id)
            .order_by(EnvironmentVersionRow.version.desc())
            .limit(1)
        )
        if latest is not None and latest.spec_hash == digest:
            return Environment.from_spec(env.name, latest.spec, latest.version)
        version = store.allocate_version(session, COUNTER_KIND, ws_id, env.name)
        session.add(
            EnvironmentVersionRow(environment_id=row.id, version=version, spec=spec, spec_hash=digest)
        )
    log.info("registered environment %r version %d", env.name, version)
    return Environment.from_spec(env.name, spec, version)


def ensure_curated(workspace: Any) -> None:
    """Register the curated environments in ``workspace`` once (idempotent)."""
    for name in CURATED:
        register_environment(workspace, curated_environment(name))


def get_environment(workspace: Any, name: str, version: int | str | None = None) -> Environment:
    if is_azureml_name(name):
        curated = resolve_azureml_name(name)
        log.info("curated environment %r resolves to %r", name, curated)
        name = curated
    if name in CURATED:
        ensure_curated(workspace)
    ws_id = workspace._workspace_id()
    with workspace.store.session() as session:
        query = (
            select(EnvironmentVersionRow)
            .join(EnvironmentRow, EnvironmentRow.id == EnvironmentVersionRow.environment_id)
            .where(EnvironmentRow.workspace_id == ws_id, EnvironmentRow.name == name)
        )
        if version is None:
            query = query.order_by(EnvironmentVersionRow.version.desc()).limit(1)
        else:
            query = query.where(EnvironmentVersionRow.version == int(version))
        row = session.scalar(query)
    if row is None:
        which = "" if version is None else f" version {version}"
        raise MlwEnvironmentError(
            f"environment {name!r}{which} is not registered in workspace {workspace.name!r}"
        )
    env = Environment.from_spec(name, row.spec, row.version)
    env.image_tag = row.image_tag
    return env


def list_environments(workspace: Any) -> dict[str, Environment]:
    """Latest version of every environment, curated ones included."""
    ensure_curated(workspace)
    ws_id = workspace._workspace_id()
    with workspace.store.session() as session:
        rows = session.execute(
            select(EnvironmentRow.name, EnvironmentVersionRow)
            .join(EnvironmentVersionRow, EnvironmentRow.id == EnvironmentVersionRow.environment_id)
            .where(EnvironmentRow.workspace_id == ws_id)
            .order_by(EnvironmentRow.name, EnvironmentVersionRow.version)
        ).all()
    latest: dict[str, Environment] = {}
    for name, row in rows:
        latest[name] = Environment.from_spec(name, row.spec, row.version)
        latest[name].image_tag = row.image_tag
    return latest
