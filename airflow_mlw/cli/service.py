"""``mlw service ...``: scoring services."""

from __future__ import annotations

import argparse
from typing import Any

from airflow_mlw.cli import command
from airflow_mlw.cli.command import add_command, open_workspace, print_result


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
    from airflow_mlw.models.service import Webservice

    print_result([_service_summary(s) for s in Webservice.list(open_workspace(args))], args.json)
    return 0


def cmd_service_show(args: argparse.Namespace) -> int:
    from airflow_mlw.models.service import Webservice

    service = Webservice(open_workspace(args), args.name)
    print_result({**_service_summary(service), "image": service.image_id, "error": service.error}, args.json)
    return 0


def cmd_service_logs(args: argparse.Namespace) -> int:
    from airflow_mlw.models.service import Webservice

    print(Webservice(open_workspace(args), args.name).get_logs(num_lines=args.lines), file=command.stdout)
    return 0


def cmd_service_delete(args: argparse.Namespace) -> int:
    from airflow_mlw.models.service import Webservice

    Webservice(open_workspace(args), args.name).delete()
    print_result({"name": args.name, "deleted": True}, args.json)
    return 0


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw service`` subcommands."""
    service = groups.add_parser("service", help="scoring services").add_subparsers(
        dest="command", required=True
    )
    add_command(service, "list", cmd_service_list, "scoring services and their state")
    for name, func, text in (
        ("show", cmd_service_show, "one service"),
        ("logs", cmd_service_logs, "its scoring container's log"),
        ("delete", cmd_service_delete, "drain and remove its containers"),
    ):
        sub = add_command(service, name, func, text)
        sub.add_argument("name")
        if name == "logs":
            sub.add_argument("--lines", type=int, default=200)
