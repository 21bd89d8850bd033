"""``mlw workspace ...``: create and inspect workspaces."""

from __future__ import annotations

import argparse
import sys

from airflow_mlw.cli.command import add_command, open_workspace, print_result


def cmd_workspace_init(args: argparse.Namespace) -> int:
    from airflow_mlw.workspace import Workspace

    base = Workspace(registry_url=args.registry_url, _config_path=args.config)
    ws = Workspace.create(
        args.workspace or base.settings.workspace_name, registry_url=base.settings.registry_url, exist_ok=True
    )
    if args.write_config:
        path = ws.write_config(args.write_config)
        print(f"wrote {path}", file=sys.stderr)
    print_result(ws.get_details(), args.json)
    return 0


def cmd_workspace_show(args: argparse.Namespace) -> int:
    print_result(open_workspace(args).get_details(), args.json)
    return 0


def cmd_workspace_list(args: argparse.Namespace) -> int:
    from airflow_mlw.workspace import Workspace

    base = Workspace(registry_url=args.registry_url, _config_path=args.config)
    print_result(sorted(Workspace.list(registry_url=base.settings.registry_url)), args.json)
    return 0


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw workspace`` subcommands."""
    workspace = groups.add_parser("workspace", help="create and inspect workspaces").add_subparsers(
        dest="command", required=True
    )
    init = add_command(workspace, "init", cmd_workspace_init, "create the workspace (idempotent) and show it")
    init.add_argument("--name", dest="workspace", help="workspace name (default: the configured one)")
    init.add_argument("--write-config", metavar="DIR", help="also write DIR/.mlw/config.json")
    show = add_command(workspace, "show", cmd_workspace_show, "show what the workspace holds")
    show.add_argument("--name", dest="workspace", help="workspace name (default: the configured one)")
    add_command(workspace, "list", cmd_workspace_list, "list workspaces in the registry")
