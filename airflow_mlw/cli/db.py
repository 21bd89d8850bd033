"""``mlw db ...``: registry database."""

from __future__ import annotations

import argparse

from airflow_mlw.cli.command import add_command, open_workspace, print_result


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    revision = ws.store.upgrade()
    print_result({"registry": ws.registry_url, "revision": revision}, args.json)
    return 0


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw db`` subcommands."""
    db = groups.add_parser("db", help="registry database").add_subparsers(dest="command", required=True)
    add_command(db, "upgrade", cmd_db_upgrade, "apply pending registry migrations")
