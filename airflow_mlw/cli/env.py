"""``mlw env ...``: environments."""

from __future__ import annotations

import argparse
from typing import Any

from airflow_mlw.cli.command import add_command, open_workspace, print_result


def _env_summary(env: Any) -> dict[str, Any]:
    return {
        "name": env.name,
        "version": env.version,
        "spec_hash": env.spec_hash[:16],
        "docker": env.docker.enabled,
        "image_tag": env.image_tag,
    }


def cmd_env_list(args: argparse.Namespace) -> int:
    from airflow_mlw.environments.spec import Environment

    print_result([_env_summary(env) for env in Environment.list(open_workspace(args)).values()], args.json)
    return 0


def cmd_env_show(args: argparse.Namespace) -> int:
    from airflow_mlw.environments.spec import Environment

    env = Environment.get(open_workspace(args), args.name, args.version)
    print_result({**_env_summary(env), "spec": env.spec()}, args.json)
    return 0


def cmd_env_build(args: argparse.Namespace) -> int:
    from airflow_mlw.environments.spec import Environment

    ws = open_workspace(args)
    env = Environment.get(ws, args.name, args.version)
    print_result({**_env_summary(env), "image": env.build(ws)}, args.json)
    return 0


def cmd_env_register(args: argparse.Namespace) -> int:
    from airflow_mlw.environments.spec import Environment

    if args.conda_file:
        env = Environment.from_conda_specification(args.name, args.conda_file)
    elif args.requirements:
        env = Environment.from_pip_requirements(args.name, args.requirements)
    else:
        env = Environment(args.name)
    env.docker.enabled = args.docker
    print_result(_env_summary(env.register(open_workspace(args))), args.json)
    return 0


def add_commands(groups: argparse._SubParsersAction) -> None:
    """The ``mlw env`` subcommands."""
    env = groups.add_parser("env", help="environments").add_subparsers(dest="command", required=True)
    add_command(env, "list", cmd_env_list, "latest version of every environment (curated ones included)")
    for name, func, text in (
        ("show", cmd_env_show, "one environment's spec"),
        ("build", cmd_env_build, "build its image (once)"),
    ):
        sub = add_command(env, name, func, text)
        sub.add_argument("name")
        sub.add_argument("--version")
    env_register = add_command(
        env, "register", cmd_env_register, "register from a conda file or requirements file"
    )
    env_register.add_argument("name")
    env_register.add_argument("--conda-file")
    env_register.add_argument("--requirements")
    env_register.add_argument("--docker", action="store_true", help="run in a Docker image")
