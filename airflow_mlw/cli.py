"""The ``mlw`` command: workspace, registry and (in later subcommands) datastores, datasets, runs."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from airflow_mlw.exceptions import MlwError

_stdout = sys.stdout


def _print(data: Any, as_json: bool) -> None:
    """Rich output on a terminal, plain JSON otherwise (or with ``--json``); always on the real stdout."""
    if as_json or not _stdout.isatty():
        print(json.dumps(data, indent=2, default=str), file=_stdout)
        return
    from rich.console import Console
    from rich.pretty import Pretty

    Console(file=_stdout).print(Pretty(data, expand_all=True))


def _workspace(args: argparse.Namespace) -> Any:
    from airflow_mlw.workspace import Workspace

    if args.workspace:
        return Workspace(
            workspace_name=args.workspace, registry_url=args.registry_url, _config_path=args.config
        )
    return Workspace(registry_url=args.registry_url, _config_path=args.config, _create_if_missing=True)


def cmd_workspace_init(args: argparse.Namespace) -> int:
    from airflow_mlw.workspace import Workspace

    base = Workspace(registry_url=args.registry_url, _config_path=args.config)
    ws = Workspace.create(
        args.workspace or base.settings.workspace_name, registry_url=base.settings.registry_url, exist_ok=True
    )
    if args.write_config:
        path = ws.write_config(args.write_config)
        print(f"wrote {path}", file=sys.stderr)
    _print(ws.get_details(), args.json)
    return 0


def cmd_workspace_show(args: argparse.Namespace) -> int:
    _print(_workspace(args).get_details(), args.json)
    return 0


def cmd_workspace_list(args: argparse.Namespace) -> int:
    from airflow_mlw.workspace import Workspace

    base = Workspace(registry_url=args.registry_url, _config_path=args.config)
    _print(sorted(Workspace.list(registry_url=base.settings.registry_url)), args.json)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    revision = ws.store.upgrade()
    _print({"registry": ws.registry_url, "revision": revision}, args.json)
    return 0


def cmd_datastore_list(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    ws = _workspace(args)
    default = ws.get_default_datastore().name
    rows = [{"name": d.name, "default": d.name == default, **d.describe()} for d in Datastore.list(ws)]
    _print(rows, args.json)
    return 0


def cmd_datastore_show(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    datastore = Datastore.get(_workspace(args), args.datastore)
    details: dict[str, Any] = {"name": datastore.name, **datastore.describe()}
    if args.files is not None:
        details["files"] = [{"path": f.path, "size": f.size} for f in datastore.list(args.files)]
    _print(details, args.json)
    return 0


def _registered(datastore: Any, args: argparse.Namespace) -> int:
    _print({"name": datastore.name, **datastore.describe()}, args.json)
    return 0


def cmd_datastore_register_local(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    return _registered(Datastore.register_local(_workspace(args), args.datastore, args.root), args)


def cmd_datastore_register_s3(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    datastore = Datastore.register_s3_bucket(
        _workspace(args), args.datastore, args.bucket, aws_conn_id=args.conn_id, prefix=args.prefix
    )
    return _registered(datastore, args)


def cmd_datastore_register_blob(args: argparse.Namespace) -> int:
    import os

    from airflow_mlw.datastores import Datastore

    def from_env(name: str | None) -> str | None:
        if name is None:
            return None
        if not os.environ.get(name):
            raise MlwError(f"environment variable {name} is not set")
        return os.environ[name]

    datastore = Datastore.register_azure_blob_container(
        _workspace(args),
        args.datastore,
        container_name=args.container,
        account_name=args.account,
        account_key=from_env(args.account_key_env),
        sas_token=from_env(args.sas_token_env),
        endpoint=args.endpoint,
        conn_id=args.conn_id,
        create_if_not_exists=args.create,
    )
    return _registered(datastore, args)


def _transfer_summary(datastore: Any, report: Any, args: argparse.Namespace) -> int:
    _print(
        {
            "datastore": datastore.name,
            "transferred": len(report.transferred),
            "skipped": len(report.skipped),
            "bytes": report.bytes,
            "seconds": round(report.seconds, 3),
        },
        args.json,
    )
    return 0


def cmd_datastore_upload(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    datastore = Datastore.get(_workspace(args), args.datastore)
    report = datastore.upload(args.src_dir, args.target_path, overwrite=args.overwrite)
    return _transfer_summary(datastore, report, args)


def cmd_datastore_download(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    datastore = Datastore.get(_workspace(args), args.datastore)
    report = datastore.download(args.target_path, args.prefix, overwrite=args.overwrite)
    return _transfer_summary(datastore, report, args)


def _dataset_summary(ds: Any) -> dict[str, Any]:
    return {
        "name": ds.name,
        "version": ds.version,
        "kind": ds.kind,
        "fingerprint": ds.fingerprint,
        "id": ds.id,
        "description": ds.description,
        "tags": ds.tags,
        "created": ds._record.created_at if ds._record else None,
    }


def cmd_dataset_list(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset

    _print([_dataset_summary(ds) for ds in Dataset.get_all(_workspace(args)).values()], args.json)
    return 0


def cmd_dataset_show(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset
    from airflow_mlw.datasets.versioning import lineage_of

    ws = _workspace(args)
    ds = Dataset.get_by_name(ws, args.name, args.version)
    manifest = ds.manifest()
    details = {
        **_dataset_summary(ds),
        "definition": ds.definition,
        "files": [{"path": e.path, "size": e.size, "hash": e.content_hash} for e in manifest.entries],
        "lineage": lineage_of(ws, ds.id),
    }
    _print(details, args.json)
    return 0


def cmd_dataset_versions(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets.versioning import list_versions

    rows = [
        {"version": r.version, "fingerprint": r.fingerprint, "created": r.created_at, "tags": r.tags}
        for r in list_versions(_workspace(args), args.name)
    ]
    _print(rows, args.json)
    return 0


def cmd_dataset_register(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset
    from airflow_mlw.datastores import Datastore

    ws = _workspace(args)
    source = (Datastore(ws, args.datastore), args.path)
    factory = Dataset.Tabular.from_delimited_files if args.tabular else Dataset.File.from_files
    tags = dict(tag.split("=", 1) for tag in args.tag or [])
    registered = factory(source).register(
        ws,
        args.name,
        description=args.description,
        tags=tags,
        create_new_version=True,
        snapshot=args.snapshot,
    )
    _print(_dataset_summary(registered), args.json)
    return 0


def cmd_dataset_download(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset

    ds = Dataset.get_by_name(_workspace(args), args.name, args.version)
    if ds.kind == "tabular":
        from airflow_mlw.datasets import FileDataset

        ds = FileDataset(ds.definition, ds.workspace, ds._record)
    paths = ds.download(args.target_path, overwrite=args.overwrite, validate=not args.no_validate)
    _print({"name": ds.name, "version": ds.version, "files": paths}, args.json)
    return 0


def cmd_dataset_diff(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset

    ws = _workspace(args)
    old = Dataset.get_by_name(ws, args.name, args.v1).manifest()
    new = Dataset.get_by_name(ws, args.name, args.v2).manifest()
    old_by_path = {e.path: e for e in old.entries}
    new_by_path = {e.path: e for e in new.entries}
    changed = sorted(p for p in old_by_path.keys() & new_by_path.keys() if old_by_path[p] != new_by_path[p])
    diff = {
        "name": args.name,
        "from": args.v1,
        "to": args.v2,
        "added": sorted(new_by_path.keys() - old_by_path.keys()),
        "removed": sorted(old_by_path.keys() - new_by_path.keys()),
        "changed": changed,
    }
    _print(diff, args.json)
    return 0


def _env_summary(env: Any) -> dict[str, Any]:
    return {
        "name": env.name,
        "version": env.version,
        "spec_hash": env.spec_hash[:16],
        "docker": env.docker.enabled,
        "image_tag": env.image_tag,
    }


def cmd_env_list(args: argparse.Namespace) -> int:
    from airflow_mlw.environments.spec import Environment

    _print([_env_summary(env) for env in Environment.list(_workspace(args)).values()], args.json)
    return 0


def cmd_env_show(args: argparse.Namespace) -> int:
    from airflow_mlw.environments.spec import Environment

    env = Environment.get(_workspace(args), args.name, args.version)
    _print({**_env_summary(env), "spec": env.spec()}, args.json)
    return 0


def cmd_env_build(args: argparse.Namespace) -> int:
    from airflow_mlw.environments.spec import Environment

    ws = _workspace(args)
    env = Environment.get(ws, args.name, args.version)
    _print({**_env_summary(env), "image": env.build(ws)}, args.json)
    return 0


def cmd_env_register(args: argparse.Namespace) -> int:
    from airflow_mlw.environments.spec import Environment

    if args.conda_file:
        env = Environment.from_conda_specification(args.name, args.conda_file)
    elif args.requirements:
        env = Environment.from_pip_requirements(args.name, args.requirements)
    else:
        env = Environment(args.name)
    env.docker.enabled = args.docker
    _print(_env_summary(env.register(_workspace(args))), args.json)
    return 0


def cmd_compute_list(args: argparse.Namespace) -> int:
    from airflow_mlw.compute import ComputeTarget

    _print([target.describe() for target in ComputeTarget.list(_workspace(args))], args.json)
    return 0


def _step_rows(args: argparse.Namespace, **filters: Any) -> list[Any]:
    from sqlalchemy import select

    from airflow_mlw.registry.models import RunRow

    ws = _workspace(args)
    query = select(RunRow).where(RunRow.workspace_id == ws._workspace_id(), RunRow.kind == "step")
    for name, value in filters.items():
        query = query.where(getattr(RunRow, name) == value)
    with ws.store.session() as session:
        rows = session.scalars(query.order_by(RunRow.created_at.desc()).limit(args.limit)).all()
        for row in rows:
            session.expunge(row)
    return list(rows)


def cmd_cache_list(args: argparse.Namespace) -> int:
    rows = [
        {
            "step": r.name,
            "dag_id": r.dag_id,
            "dag_run_id": r.dag_run_id,
            "status": r.status,
            "key": (r.reuse_key or "")[:16],
            "reused_from": r.reused_from_id,
        }
        for r in _step_rows(args)
    ]
    _print(rows, args.json)
    return 0


def cmd_cache_show(args: argparse.Namespace) -> int:
    rows = [r for r in _step_rows(args) if (r.reuse_key or "").startswith(args.key)]
    if not rows:
        raise MlwError(f"no step run with a reuse key starting with {args.key!r}")
    _print(
        {"key": rows[0].reuse_key, "document": rows[0].key_document, "runs": [r.id for r in rows]}, args.json
    )
    return 0


def cmd_cache_explain(args: argparse.Namespace) -> int:
    from airflow_mlw.pipelines.reuse import explain

    rows = [r for r in _step_rows(args, name=args.step) if r.key_document]
    if not rows:
        raise MlwError(f"no recorded run of step {args.step!r}")
    latest, previous = rows[0], (rows[1] if len(rows) > 1 else None)
    reasons = (
        ["reused: same key"]
        if previous and latest.reuse_key == previous.reuse_key
        else explain(previous.key_document if previous else None, latest.key_document)
    )
    _print(
        {
            "step": args.step,
            "latest": latest.id,
            "previous": previous.id if previous else None,
            "changes": reasons,
        },
        args.json,
    )
    return 0


def cmd_cache_clear(args: argparse.Namespace) -> int:
    from sqlalchemy import update

    from airflow_mlw.registry.models import RunRow

    ws = _workspace(args)
    with ws.store.session(write=True) as session:
        result = session.execute(
            update(RunRow)
            .where(RunRow.workspace_id == ws._workspace_id(), RunRow.reuse_key.is_not(None))
            .values(reuse_key=None)
            .execution_options(synchronize_session=False)
        )
    _print({"cleared": result.rowcount}, args.json)
    return 0


def cmd_compute_sync(args: argparse.Namespace) -> int:
    from airflow_mlw.compute import sync_pools

    _print({"pools": sync_pools(_workspace(args))}, args.json)
    return 0


def _api(args: argparse.Namespace) -> Any:
    """The api-server client when ``[mlw] api_url`` is set, else ``None`` (work in-process)."""
    from airflow_mlw.api_client import ApiClient

    ws = _workspace(args)
    return ApiClient.from_settings(ws.settings) if ws.settings.api_url else None


def cmd_pipeline_list(args: argparse.Namespace) -> int:
    from airflow_mlw.pipelines.publish import PublishedPipeline

    client = _api(args)
    if client is not None:
        _print(client.request("GET", "/mlw/api/pipelines"), args.json)
    else:
        _print([p.to_json() for p in PublishedPipeline.list(_workspace(args))], args.json)
    return 0


def _param(text: str) -> tuple[str, Any]:
    """``k=v``; ``v`` is read as JSON when it parses (numbers, booleans, objects), else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise MlwError(f"--param {text!r} must be NAME=VALUE")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def cmd_pipeline_trigger(args: argparse.Namespace) -> int:
    from airflow_mlw.pipelines.publish import PublishedPipeline

    parameters = dict(_param(p) for p in args.param)
    client = _api(args)
    if client is None:
        ws = _workspace(args)
        run = PublishedPipeline.get_by_name(ws, args.name, args.version).submit(
            ws, args.experiment or args.name, parameters
        )
        status = run.get_status()
        _print({"Id": run.id, "Status": status}, args.json)
        return 0 if status == "Finished" else 1
    query = f"?version={args.version}" if args.version else ""
    body = {"ExperimentName": args.experiment or args.name, "ParameterAssignments": parameters}
    answer = client.request("POST", f"/mlw/api/pipelines/{args.name}/runs{query}", body)
    if args.wait:
        import time

        while (answer := client.request("GET", f"/mlw/api/runs/{answer['Id']}"))["Status"] not in (
            "Finished",
            "Failed",
            "Canceled",
        ):
            time.sleep(2)
    _print(answer, args.json)
    return 0 if answer.get("Status", "Finished") == "Finished" else 1


def _model_summary(model: Any) -> dict[str, Any]:
    return {
        "name": model.name,
        "version": model.version,
        "id": model.id,
        "fingerprint": model.fingerprint,
        "run_id": model.run_id,
        "tags": model.tags,
        "properties": model.properties,
        "description": model.description,
        "created": model.created_time,
    }


def cmd_model_list(args: argparse.Namespace) -> int:
    from airflow_mlw.models.model import Model

    tags = [tag.split("=", 1) if "=" in tag else tag for tag in args.tag or []]
    models = Model.list(_workspace(args), name=args.name, tags=tags or None, latest=args.latest)
    _print([_model_summary(m) for m in models], args.json)
    return 0


def cmd_model_show(args: argparse.Namespace) -> int:
    from airflow_mlw.models.model import Model
    from airflow_mlw.models.versions import lineage_of

    ws = _workspace(args)
    model = Model(ws, args.name, version=args.version)
    details = {
        **_model_summary(model),
        "files": [{"path": e.path, "size": e.size, "hash": e.content_hash} for e in model._entries()],
        "metrics": model.get_metrics(),
        "datasets": [{"name": d.name, "version": d.version} for d in model.datasets.get("training", [])],
        "lineage": lineage_of(ws, model._record.id),
    }
    _print(details, args.json)
    return 0


def cmd_model_download(args: argparse.Namespace) -> int:
    from airflow_mlw.models.model import Model

    model = Model(_workspace(args), args.name, version=args.version)
    path = model.download(args.target_dir, exist_ok=args.overwrite)
    _print({"name": model.name, "version": model.version, "path": path}, args.json)
    return 0


def _service_summary(service: Any) -> dict[str, Any]:
    return {
        "name": service.name,
        "state": service.state,
        "scoring_uri": service.scoring_uri,
        "compute_type": service.compute_type,
        "models": [m.id for m in service.models],
        "updated": service.updated_time,
    }


def cmd_service_list(args: argparse.Namespace) -> int:
    from airflow_mlw.models.webservice import Webservice

    _print([_service_summary(s) for s in Webservice.list(_workspace(args))], args.json)
    return 0


def cmd_service_show(args: argparse.Namespace) -> int:
    from airflow_mlw.models.webservice import Webservice

    service = Webservice(_workspace(args), args.name)
    _print({**_service_summary(service), "image": service.image_id, "error": service.error}, args.json)
    return 0


def cmd_service_logs(args: argparse.Namespace) -> int:
    from airflow_mlw.models.webservice import Webservice

    print(Webservice(_workspace(args), args.name).get_logs(num_lines=args.lines), file=_stdout)
    return 0


def cmd_service_delete(args: argparse.Namespace) -> int:
    from airflow_mlw.models.webservice import Webservice

    Webservice(_workspace(args), args.name).delete()
    _print({"name": args.name, "deleted": True}, args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlw", description="airflow_mlw workspaces on Airflow")
    parser.add_argument("--config", help="workspace config file or folder (default: discovery order)")
    parser.add_argument("--registry-url", help="registry SQLAlchemy URL (overrides the config)")
    parser.add_argument("--json", action="store_true", help="print JSON even on a terminal")
    parser.add_argument("--workspace", help="workspace name (default: the configured one)")
    groups = parser.add_subparsers(dest="group", required=True)

    def add(
        group: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int], help: str
    ) -> Any:
        sub = group.add_parser(name, help=help)
        sub.set_defaults(func=func)
        return sub

    workspace = groups.add_parser("workspace", help="create and inspect workspaces").add_subparsers(
        dest="command", required=True
    )
    init = add(workspace, "init", cmd_workspace_init, "create the workspace (idempotent) and show it")
    init.add_argument("--name", dest="workspace", help="workspace name (default: the configured one)")
    init.add_argument("--write-config", metavar="DIR", help="also write DIR/.mlw/config.json")
    show = add(workspace, "show", cmd_workspace_show, "show what the workspace holds")
    show.add_argument("--name", dest="workspace", help="workspace name (default: the configured one)")
    add(workspace, "list", cmd_workspace_list, "list workspaces in the registry")

    datastore = groups.add_parser("datastore", help="register datastores and move files").add_subparsers(
        dest="command", required=True
    )
    add(datastore, "list", cmd_datastore_list, "list the workspace's datastores")
    show_ds = add(datastore, "show", cmd_datastore_show, "show one datastore (and its files with --files)")
    show_ds.add_argument("datastore")
    show_ds.add_argument(
        "--files", nargs="?", const="", metavar="PREFIX", help="list files at or below PREFIX"
    )
    reg_local = add(datastore, "register-local", cmd_datastore_register_local, "register a local folder")
    reg_local.add_argument("datastore")
    reg_local.add_argument("root")
    reg_s3 = add(datastore, "register-s3", cmd_datastore_register_s3, "register an S3 bucket")
    reg_s3.add_argument("datastore")
    reg_s3.add_argument("bucket")
    reg_s3.add_argument("--conn-id", default="aws_default", help="Airflow aws connection")
    reg_s3.add_argument("--prefix", help="key prefix inside the bucket")
    reg_blob = add(
        datastore, "register-blob", cmd_datastore_register_blob, "register an Azure Blob container"
    )
    reg_blob.add_argument("datastore")
    reg_blob.add_argument("container")
    reg_blob.add_argument("--account", required=True, help="storage account name")
    reg_blob.add_argument("--conn-id", help="Airflow wasb connection (instead of a key)")
    reg_blob.add_argument("--account-key-env", metavar="VAR", help="read the account key from this variable")
    reg_blob.add_argument("--sas-token-env", metavar="VAR", help="read a SAS token from this variable")
    reg_blob.add_argument("--endpoint", help="suffix (core.windows.net) or full blob service URL")
    reg_blob.add_argument("--create", action="store_true", help="create the container if it does not exist")
    upload = add(datastore, "upload", cmd_datastore_upload, "upload a folder")
    upload.add_argument("datastore")
    upload.add_argument("src_dir")
    upload.add_argument("--target-path", help="path on the datastore (default: the root)")
    upload.add_argument("--overwrite", action="store_true", help="replace differing files")
    download = add(datastore, "download", cmd_datastore_download, "download files below a prefix")
    download.add_argument("datastore")
    download.add_argument("target_path")
    download.add_argument("--prefix", help="datastore path prefix (whole segments)")
    download.add_argument("--overwrite", action="store_true", help="replace differing local files")

    dataset = groups.add_parser("dataset", help="versioned datasets").add_subparsers(
        dest="command", required=True
    )
    add(dataset, "list", cmd_dataset_list, "latest version of every dataset")
    ds_show = add(dataset, "show", cmd_dataset_show, "one version: definition, files, lineage")
    ds_show.add_argument("name")
    ds_show.add_argument("--version", default="latest")
    ds_versions = add(dataset, "versions", cmd_dataset_versions, "every version of a dataset")
    ds_versions.add_argument("name")
    ds_register = add(
        dataset, "register", cmd_dataset_register, "register files on a datastore (new version if changed)"
    )
    ds_register.add_argument("name")
    ds_register.add_argument("path", help="glob on the datastore, e.g. 'data/**/*.csv'")
    ds_register.add_argument("--datastore", help="datastore (default: the workspace default)")
    ds_register.add_argument(
        "--tabular", action="store_true", help="delimited files (default: a file dataset)"
    )
    ds_register.add_argument("--description")
    ds_register.add_argument("--tag", action="append", metavar="K=V")
    ds_register.add_argument("--snapshot", action="store_true", help="copy into content-addressed storage")
    ds_download = add(dataset, "download", cmd_dataset_download, "download a version's files")
    ds_download.add_argument("name")
    ds_download.add_argument("target_path")
    ds_download.add_argument("--version", default="latest")
    ds_download.add_argument("--overwrite", action="store_true")
    ds_download.add_argument("--no-validate", action="store_true", help="skip the drift check")
    ds_diff = add(dataset, "diff", cmd_dataset_diff, "files added, removed and changed between versions")
    ds_diff.add_argument("name")
    ds_diff.add_argument("v1")
    ds_diff.add_argument("v2")

    env = groups.add_parser("env", help="environments").add_subparsers(dest="command", required=True)
    add(env, "list", cmd_env_list, "latest version of every environment (curated ones included)")
    for name, func, text in (
        ("show", cmd_env_show, "one environment's spec"),
        ("build", cmd_env_build, "build its image (once)"),
    ):
        sub = add(env, name, func, text)
        sub.add_argument("name")
        sub.add_argument("--version")
    env_register = add(env, "register", cmd_env_register, "register from a conda file or requirements file")
    env_register.add_argument("name")
    env_register.add_argument("--conda-file")
    env_register.add_argument("--requirements")
    env_register.add_argument("--docker", action="store_true", help="run in a Docker image")

    compute = groups.add_parser("compute", help="compute targets").add_subparsers(
        dest="command", required=True
    )
    add(compute, "list", cmd_compute_list, "compute targets (local always present)")
    add(
        compute, "sync", cmd_compute_sync, "create the Airflow pool of every cluster target (max_nodes slots)"
    )

    cache = groups.add_parser("cache", help="step reuse records").add_subparsers(
        dest="command", required=True
    )
    cache_list = add(cache, "list", cmd_cache_list, "recent step runs and their reuse keys")
    cache_show = add(cache, "show", cmd_cache_show, "the key document of a reuse key (prefix)")
    cache_show.add_argument("key")
    cache_explain = add(
        cache, "explain", cmd_cache_explain, "what changed between the last two runs of a step"
    )
    cache_explain.add_argument("step")
    add(cache, "clear", cmd_cache_clear, "forget every reuse key (nothing is reused until steps run again)")
    for sub in (cache_list, cache_show, cache_explain):
        sub.add_argument("--limit", type=int, default=50)

    pipeline = groups.add_parser("pipeline", help="published pipelines").add_subparsers(
        dest="command", required=True
    )
    add(pipeline, "list", cmd_pipeline_list, "published pipelines (over REST when [mlw] api_url is set)")
    trigger = add(
        pipeline, "trigger", cmd_pipeline_trigger, "run the newest active pipeline published as NAME"
    )
    trigger.add_argument("name")
    trigger.add_argument("--param", action="append", default=[], metavar="K=V", help="pipeline parameter")
    trigger.add_argument("--version", help="published version (default: newest)")
    trigger.add_argument("--experiment", help="experiment name (default: the pipeline's name)")
    trigger.add_argument("--wait", action="store_true", help="wait for the run to end and show its steps")

    model = groups.add_parser("model", help="registered models").add_subparsers(dest="command", required=True)
    model_list = add(model, "list", cmd_model_list, "model versions, newest first")
    model_list.add_argument("--name", help="only this model")
    model_list.add_argument("--tag", action="append", metavar="K[=V]", help="has tag K (with value V)")
    model_list.add_argument("--latest", action="store_true", help="only the newest version of each model")
    model_show = add(model, "show", cmd_model_show, "one version: files, metrics, datasets, lineage")
    model_show.add_argument("name")
    model_show.add_argument("--version", help="default: the newest")
    model_download = add(model, "download", cmd_model_download, "copy a version's file or folder")
    model_download.add_argument("name")
    model_download.add_argument("target_dir")
    model_download.add_argument("--version", help="default: the newest")
    model_download.add_argument("--overwrite", action="store_true", help="replace what is there")

    service = groups.add_parser("service", help="scoring services").add_subparsers(
        dest="command", required=True
    )
    add(service, "list", cmd_service_list, "scoring services and their state")
    for name, func, text in (
        ("show", cmd_service_show, "one service"),
        ("logs", cmd_service_logs, "its scoring container's log"),
        ("delete", cmd_service_delete, "drain and remove its containers"),
    ):
        sub = add(service, name, func, text)
        sub.add_argument("name")
        if name == "logs":
            sub.add_argument("--lines", type=int, default=200)

    db = groups.add_parser("db", help="registry database").add_subparsers(dest="command", required=True)
    add(db, "upgrade", cmd_db_upgrade, "apply pending registry migrations")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    global _stdout
    args = build_parser().parse_args(argv)
    _stdout = sys.stdout
    try:
        # Airflow's logging writes to stdout when its config loads; keep stdout for our output.
        with contextlib.redirect_stdout(sys.stderr):
            return int(args.func(args))
    except MlwError as exc:
        print(f"mlw: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
