"""What a scoring revision runs: the models it serves and its ``ScoringSpec`` (image, entry script,
source, environment, limits)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import WebserviceException

if TYPE_CHECKING:
    from airflow_mlw.models.containers import ScoringSpec
    from airflow_mlw.models.model import InferenceConfig, Model
    from airflow_mlw.workspace import Workspace


def resolve_model(workspace: Workspace, model: Any) -> Model:
    from airflow_mlw.models.model import Model

    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        name, _, version = model.partition(":")
        return Model(workspace, name, version=version or None)
    raise WebserviceException(f"models must be Model objects or 'name[:version]' strings, not {model!r}")


def scoring_spec(
    workspace: Workspace,
    models: list[Model],
    inference_config: InferenceConfig,
    revision: int,
    docker_url: str | None,
    limits: dict[str, float],
) -> ScoringSpec:
    from airflow_mlw.environments.docker_build import ensure_image
    from airflow_mlw.models.containers import ScoringSpec, source_archive

    source, entry = inference_config.resolved()
    environment = inference_config.scoring_environment()
    return ScoringSpec(
        image=ensure_image(environment, workspace, docker_url=docker_url),
        revision=revision,
        entry_script=entry,
        source_archive=source_archive(source),
        models=[(m.name, m.version, m.local_folder()) for m in models],
        environment={
            "MLW_ENVIRONMENT": environment.name,
            **{k: str(v) for k, v in environment.environment_variables.items()},
        },
        limits=limits,
    )


def scoring_spec_like(
    workspace: Workspace, models: list[Model], config: dict[str, Any], archive: bytes
) -> ScoringSpec:
    """The next revision of a deployed spec with other models (same image, entry script and source)."""
    from airflow_mlw.models.containers import ScoringSpec

    return ScoringSpec(
        image=config["image"],
        revision=config["revision"] + 1,
        entry_script=config["entry_script"],
        source_archive=archive,
        models=[(m.name, m.version, m.local_folder()) for m in models],
        environment=dict(config.get("environment") or {}),
        limits=dict(config.get("limits") or {}),
    )


def config_of(spec: ScoringSpec) -> dict[str, Any]:
    return {
        "image": spec.image,
        "revision": spec.revision,
        "entry_script": spec.entry_script,
        "environment": spec.environment,
        "limits": spec.limits,
    }
