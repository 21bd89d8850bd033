"""``mlw compute ...``: compute targets."""

from __future__ import annotations

import argparse

from airflow_mlw.cli.command import add_command, open_workspace, print_result


def cmd_compute_list(args: argparse.Namespace) -> int:
    from airflow_mlw.compute import ComputeTarget

    print_result([target.describe() for target in ComputeTarget.list(open_workspace(args))], args.json)
    return 0


def cmd_compute_sync(args: argparse.Namespace) -> int:
    from airflow_mlw.compute import sync_pools

    print_result({"pools": sync_pools(open_workspace(args))}, args.json)
    return 0


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw compute`` subcommands."""
    compute = groups.add_parser("compute", help="compute targets").add_subparsers(
        dest="command", required=True
    )
    add_command(compute, "list", cmd_compute_list, "compute targets (local always present)")
    add_command(
        compute, "sync", cmd_compute_sync, "create the Airflow pool of every cluster target (max_nodes slots)"
    )
