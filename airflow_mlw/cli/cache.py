"""``mlw cache ...``: step reuse records."""

from __future__ import annotations

import argparse
from typing import Any

from airflow_mlw.cli.command import add_command, open_workspace, print_result
from airflow_mlw.exceptions import MlwError


def _step_rows(args: argparse.Namespace, **filters: Any) -> list[Any]:
    from sqlalchemy import select

    from airflow_mlw.registry.rows import RunRow

    ws = open_workspace(args)
    query = select(RunRow).where(RunRow.workspace_id == ws._workspace_id(), RunRow.kind == "step")
    for name, value in filters.items():
        query = query.where(getattr(RunRow, name) == value)
    with ws.store.session() as session:
        rows = session.scalars(query.order_by(RunRow.created_at.desc()).limit(args.limit)).all()
        for row in rows:
            session.expunge(row)
    return list(rows)


def cmd_cache_list(args: argparse.Namespace) -> int:
    rows = [
        {
            "step": r.name,
            "dag_id": r.dag_id,
            "dag_run_id": r.dag_run_id,
            "status": r.status,
            "key": (r.reuse_key or "")[:16],
            "reused_from": r.reused_from_id,
        }
        for r in _step_rows(args)
    ]
    print_result(rows, args.json)
    return 0


def cmd_cache_show(args: argparse.Namespace) -> int:
    rows = [r for r in _step_rows(args) if (r.reuse_key or "").startswith(args.key)]
    if not rows:
        raise MlwError(f"no step run with a reuse key starting with {args.key!r}")
    print_result(
        {"key": rows[0].reuse_key, "document": rows[0].key_document, "runs": [r.id for r in rows]}, args.json
    )
    return 0


def cmd_cache_explain(args: argparse.Namespace) -> int:
    from airflow_mlw.pipelines.reuse import explain

    rows = [r for r in _step_rows(args, name=args.step) if r.key_document]
    if not rows:
        raise MlwError(f"no recorded run of step {args.step!r}")
    latest, previous = rows[0], (rows[1] if len(rows) > 1 else None)
    reasons = (
        ["reused: same key"]
        if previous and latest.reuse_key == previous.reuse_key
        else explain(previous.key_document if previous else None, latest.key_document)
    )
    decided = None
    if latest.reused_from_id:  # reused: decided ahead (never launched), or by the step's own task
        decided = "planning task" if (latest.properties or {}).get("planned") else "step task"
    print_result(
        {
            "step": args.step,
            "latest": latest.id,
            "previous": previous.id if previous else None,
            "reused_from": latest.reused_from_id,
            "decided_by": decided,
            "changes": reasons,
        },
        args.json,
    )
    return 0


def cmd_cache_clear(args: argparse.Namespace) -> int:
    from sqlalchemy import update

    from airflow_mlw.registry.rows import RunRow

    ws = open_workspace(args)
    with ws.store.session(write=True) as session:
        result = session.execute(
            update(RunRow)
            .where(RunRow.workspace_id == ws._workspace_id(), RunRow.reuse_key.is_not(None))
            .values(reuse_key=None)
            .execution_options(synchronize_session=False)
        )
    print_result({"cleared": result.rowcount}, args.json)
    return 0


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw cache`` subcommands."""
    cache = groups.add_parser("cache", help="step reuse records").add_subparsers(
        dest="command", required=True
    )
    cache_list = add_command(cache, "list", cmd_cache_list, "recent step runs and their reuse keys")
    cache_show = add_command(cache, "show", cmd_cache_show, "the key document of a reuse key (prefix)")
    cache_show.add_argument("key")
    cache_explain = add_command(
        cache, "explain", cmd_cache_explain, "what changed between the last two runs of a step"
    )
    cache_explain.add_argument("step")
    add_command(
        cache, "clear", cmd_cache_clear, "forget every reuse key (nothing is reused until steps run again)"
    )
    for sub in (cache_list, cache_show, cache_explain):
        sub.add_argument("--limit", type=int, default=50)
