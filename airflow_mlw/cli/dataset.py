"""``mlw dataset ...``: versioned datasets."""

from __future__ import annotations

import argparse
from typing import Any

from airflow_mlw.cli.command import add_command, open_workspace, print_result


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

    print_result([_dataset_summary(ds) for ds in Dataset.get_all(open_workspace(args)).values()], args.json)
    return 0


def cmd_dataset_show(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset
    from airflow_mlw.datasets.versioning import lineage_of

    ws = open_workspace(args)
    ds = Dataset.get_by_name(ws, args.name, args.version)
    manifest = ds.manifest()
    details = {
        **_dataset_summary(ds),
        "definition": ds.definition,
        "files": [{"path": e.path, "size": e.size, "hash": e.content_hash} for e in manifest.entries],
        "lineage": lineage_of(ws, ds.id),
    }
    print_result(details, args.json)
    return 0


def cmd_dataset_versions(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets.versioning import list_versions

    rows = [
        {"version": r.version, "fingerprint": r.fingerprint, "created": r.created_at, "tags": r.tags}
        for r in list_versions(open_workspace(args), args.name)
    ]
    print_result(rows, args.json)
    return 0


def cmd_dataset_register(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset
    from airflow_mlw.datastores import Datastore

    ws = open_workspace(args)
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
    print_result(_dataset_summary(registered), args.json)
    return 0


def cmd_dataset_download(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset

    ds = Dataset.get_by_name(open_workspace(args), args.name, args.version)
    if ds.kind == "tabular":
        from airflow_mlw.datasets import FileDataset

        ds = FileDataset(ds.definition, ds.workspace, ds._record)
    paths = ds.download(args.target_path, overwrite=args.overwrite, validate=not args.no_validate)
    print_result({"name": ds.name, "version": ds.version, "files": paths}, args.json)
    return 0


def cmd_dataset_diff(args: argparse.Namespace) -> int:
    from airflow_mlw.datasets import Dataset

    ws = open_workspace(args)
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
    print_result(diff, args.json)
    return 0


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw dataset`` subcommands."""
    dataset = groups.add_parser("dataset", help="versioned datasets").add_subparsers(
        dest="command", required=True
    )
    add_command(dataset, "list", cmd_dataset_list, "latest version of every dataset")
    ds_show = add_command(dataset, "show", cmd_dataset_show, "one version: definition, files, lineage")
    ds_show.add_argument("name")
    ds_show.add_argument("--version", default="latest")
    ds_versions = add_command(dataset, "versions", cmd_dataset_versions, "every version of a dataset")
    ds_versions.add_argument("name")
    ds_register = add_command(
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
    ds_download = add_command(dataset, "download", cmd_dataset_download, "download a version's files")
    ds_download.add_argument("name")
    ds_download.add_argument("target_path")
    ds_download.add_argument("--version", default="latest")
    ds_download.add_argument("--overwrite", action="store_true")
    ds_download.add_argument("--no-validate", action="store_true", help="skip the drift check")
    ds_diff = add_command(
        dataset, "diff", cmd_dataset_diff, "files added, removed and changed between versions"
    )
    ds_diff.add_argument("name")
    ds_diff.add_argument("v1")
    ds_diff.add_argument("v2")
