"""``mlw model ...``: registered models."""

from __future__ import annotations

import argparse
from typing import Any

from airflow_mlw.cli.command import add_command, open_workspace, print_result


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
    models = Model.list(open_workspace(args), name=args.name, tags=tags or None, latest=args.latest)
    print_result([_model_summary(m) for m in models], args.json)
    return 0


def cmd_model_show(args: argparse.Namespace) -> int:
    from airflow_mlw.models.model import Model
    from airflow_mlw.models.versions import lineage_of

    ws = open_workspace(args)
    model = Model(ws, args.name, version=args.version)
    details = {
        **_model_summary(model),
        "files": [{"path": e.path, "size": e.size, "hash": e.content_hash} for e in model._entries()],
        "metrics": model.get_metrics(),
        "datasets": [{"name": d.name, "version": d.version} for d in model.datasets.get("training", [])],
        "lineage": lineage_of(ws, model._record.id),
    }
    print_result(details, args.json)
    return 0


def cmd_model_download(args: argparse.Namespace) -> int:
    from airflow_mlw.models.model import Model

    model = Model(open_workspace(args), args.name, version=args.version)
    path = model.download(args.target_dir, exist_ok=args.overwrite)
    print_result({"name": model.name, "version": model.version, "path": path}, args.json)
    return 0


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw model`` subcommands."""
    model = groups.add_parser("model", help="registered models").add_subparsers(dest="command", required=True)
    model_list = add_command(model, "list", cmd_model_list, "model versions, newest first")
    model_list.add_argument("--name", help="only this model")
    model_list.add_argument("--tag", action="append", metavar="K[=V]", help="has tag K (with value V)")
    model_list.add_argument("--latest", action="store_true", help="only the newest version of each model")
    model_show = add_command(model, "show", cmd_model_show, "one version: files, metrics, datasets, lineage")
    model_show.add_argument("name")
    model_show.add_argument("--version", help="default: the newest")
    model_download = add_command(model, "download", cmd_model_download, "copy a version's file or folder")
    model_download.add_argument("name")
    model_download.add_argument("target_dir")
    model_download.add_argument("--version", help="default: the newest")
    model_download.add_argument("--overwrite", action="store_true", help="replace what is there")
