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

    if getattr(args, "name", None):
        return Workspace(workspace_name=args.name, registry_url=args.registry_url, _config_path=args.config)
    return Workspace(registry_url=args.registry_url, _config_path=args.config, _create_if_missing=True)


def cmd_workspace_init(args: argparse.Namespace) -> int:
    from airflow_mlw.workspace import Workspace

    base = Workspace(registry_url=args.registry_url, _config_path=args.config)
    ws = Workspace.create(
        args.name or base.settings.workspace_name, registry_url=base.settings.registry_url, exist_ok=True
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlw", description="airflow_mlw workspaces on Airflow")
    parser.add_argument("--config", help="workspace config file or folder (default: discovery order)")
    parser.add_argument("--registry-url", help="registry SQLAlchemy URL (overrides the config)")
    parser.add_argument("--json", action="store_true", help="print JSON even on a terminal")
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
    init.add_argument("--name", help="workspace name (default: the configured one)")
    init.add_argument("--write-config", metavar="DIR", help="also write DIR/.mlw/config.json")
    show = add(workspace, "show", cmd_workspace_show, "show what the workspace holds")
    show.add_argument("--name", help="workspace name (default: the configured one)")
    add(workspace, "list", cmd_workspace_list, "list workspaces in the registry")

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
