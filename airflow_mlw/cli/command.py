"""What every ``mlw`` command shares: the workspace the global options name, output on the real
stdout, and how a subcommand is declared."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

#: The real stdout (``main`` sends everything else printed, such as Airflow's logging, to stderr).
stdout = sys.stdout


def print_result(data: Any, as_json: bool) -> None:
    """Rich output on a terminal, plain JSON otherwise (or with ``--json``); always on the real stdout."""
    if as_json or not stdout.isatty():
        print(json.dumps(data, indent=2, default=str), file=stdout)
        return
    from rich.console import Console
    from rich.pretty import Pretty

    Console(file=stdout).print(Pretty(data, expand_all=True))


def open_workspace(args: argparse.Namespace) -> Any:
    """The workspace ``--workspace`` names (default: the configured one, created when missing)."""
    from airflow_mlw.workspace import Workspace

    if args.workspace:
        return Workspace(
            workspace_name=args.workspace, registry_url=args.registry_url, _config_path=args.config
        )
    return Workspace(registry_url=args.registry_url, _config_path=args.config, _create_if_missing=True)


def add_command(
    group: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int], help: str
) -> Any:
    """Subcommand ``name`` of ``group``, run by ``func``."""
    sub = group.add_parser(name, help=help)
    sub.set_defaults(func=func)
    return sub
