"""``mlw pipeline ...``: published pipelines."""

from __future__ import annotations

import argparse
import json
from typing import Any

from airflow_mlw.cli.command import add_command, open_workspace, print_result
from airflow_mlw.exceptions import MlwError


def _api(args: argparse.Namespace) -> Any:
    """The api-server client when ``[mlw] api_url`` is set, else ``None`` (work in-process)."""
    from airflow_mlw.api_client import ApiClient

    ws = open_workspace(args)
    return ApiClient.from_settings(ws.settings) if ws.settings.api_url else None


def cmd_pipeline_list(args: argparse.Namespace) -> int:
    from airflow_mlw.pipelines.publish import PublishedPipeline

    client = _api(args)
    if client is not None:
        print_result(client.request("GET", "/mlw/api/pipelines"), args.json)
    else:
        print_result([p.to_json() for p in PublishedPipeline.list(open_workspace(args))], args.json)
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
        ws = open_workspace(args)
        run = PublishedPipeline.get_by_name(ws, args.name, args.version).submit(
            ws, args.experiment or args.name, parameters
        )
        status = run.get_status()
        print_result({"Id": run.id, "Status": status}, args.json)
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
    print_result(answer, args.json)
    return 0 if answer.get("Status", "Finished") == "Finished" else 1


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw pipeline`` subcommands."""
    pipeline = groups.add_parser("pipeline", help="published pipelines").add_subparsers(
        dest="command", required=True
    )
    add_command(
        pipeline, "list", cmd_pipeline_list, "published pipelines (over REST when [mlw] api_url is set)"
    )
    trigger = add_command(
        pipeline, "trigger", cmd_pipeline_trigger, "run the newest active pipeline published as NAME"
    )
    trigger.add_argument("name")
    trigger.add_argument("--param", action="append", default=[], metavar="K=V", help="pipeline parameter")
    trigger.add_argument("--version", help="published version (default: newest)")
    trigger.add_argument("--experiment", help="experiment name (default: the pipeline's name)")
    trigger.add_argument("--wait", action="store_true", help="wait for the run to end and show its steps")
