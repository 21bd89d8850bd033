"""``mlw datastore ...``: register datastores and move files."""

from __future__ import annotations

import argparse
from typing import Any

from airflow_mlw.cli.command import add_command, open_workspace, print_result
from airflow_mlw.exceptions import MlwError


def cmd_datastore_list(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    ws = open_workspace(args)
    default = ws.get_default_datastore().name
    rows = [{"name": d.name, "default": d.name == default, **d.describe()} for d in Datastore.list(ws)]
    print_result(rows, args.json)
    return 0


def cmd_datastore_show(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    datastore = Datastore.get(open_workspace(args), args.datastore)
    details: dict[str, Any] = {"name": datastore.name, **datastore.describe()}
    if args.files is not None:
        details["files"] = [{"path": f.path, "size": f.size} for f in datastore.list(args.files)]
    print_result(details, args.json)
    return 0


def _registered(datastore: Any, args: argparse.Namespace) -> int:
    print_result({"name": datastore.name, **datastore.describe()}, args.json)
    return 0


def cmd_datastore_register_local(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    return _registered(Datastore.register_local(open_workspace(args), args.datastore, args.root), args)


def cmd_datastore_register_s3(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    datastore = Datastore.register_s3_bucket(
        open_workspace(args), args.datastore, args.bucket, aws_conn_id=args.conn_id, prefix=args.prefix
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
        open_workspace(args),
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
    print_result(
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

    datastore = Datastore.get(open_workspace(args), args.datastore)
    report = datastore.upload(args.src_dir, args.target_path, overwrite=args.overwrite)
    return _transfer_summary(datastore, report, args)


def cmd_datastore_download(args: argparse.Namespace) -> int:
    from airflow_mlw.datastores import Datastore

    datastore = Datastore.get(open_workspace(args), args.datastore)
    report = datastore.download(args.target_path, args.prefix, overwrite=args.overwrite)
    return _transfer_summary(datastore, report, args)


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw datastore`` subcommands."""
    datastore = groups.add_parser("datastore", help="register datastores and move files").add_subparsers(
        dest="command", required=True
    )
    add_command(datastore, "list", cmd_datastore_list, "list the workspace's datastores")
    show_ds = add_command(
        datastore, "show", cmd_datastore_show, "show one datastore (and its files with --files)"
    )
    show_ds.add_argument("datastore")
    show_ds.add_argument(
        "--files", nargs="?", const="", metavar="PREFIX", help="list files at or below PREFIX"
    )
    reg_local = add_command(
        datastore, "register-local", cmd_datastore_register_local, "register a local folder"
    )
    reg_local.add_argument("datastore")
    reg_local.add_argument("root")
    reg_s3 = add_command(datastore, "register-s3", cmd_datastore_register_s3, "register an S3 bucket")
    reg_s3.add_argument("datastore")
    reg_s3.add_argument("bucket")
    reg_s3.add_argument("--conn-id", default="aws_default", help="Airflow aws connection")
    reg_s3.add_argument("--prefix", help="key prefix inside the bucket")
    reg_blob = add_command(
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
    upload = add_command(datastore, "upload", cmd_datastore_upload, "upload a folder")
    upload.add_argument("datastore")
    upload.add_argument("src_dir")
    upload.add_argument("--target-path", help="path on the datastore (default: the root)")
    upload.add_argument("--overwrite", action="store_true", help="replace differing files")
    download = add_command(datastore, "download", cmd_datastore_download, "download files below a prefix")
    download.add_argument("datastore")
    download.add_argument("target_path")
    download.add_argument("--prefix", help="datastore path prefix (whole segments)")
    download.add_argument("--overwrite", action="store_true", help="replace differing local files")
