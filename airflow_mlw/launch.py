"""``python -m airflow_mlw.launch <processes> <per node> -- <command...>``: a distributed job's
processes on one machine (local or Docker compute), standard library only.

Each process gets the variables PyTorch (``torchrun``) and MPI code read: ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``NODE_RANK``, ``GROUP_RANK``, ``MASTER_ADDR``,
``MASTER_PORT`` and Open MPI's ``OMPI_COMM_WORLD_*``. The job fails with the first non-zero exit
code; SIGTERM (a killed task) is passed on to every process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys


def rank_environment(rank: int, world: int, per_node: int, port: int) -> dict[str, str]:
    node, local = divmod(rank, per_node)
    values = {
        "RANK": rank,
        "WORLD_SIZE": world,
        "LOCAL_RANK": local,
        "LOCAL_WORLD_SIZE": per_node,
        "NODE_RANK": node,
        "GROUP_RANK": node,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": port,
        "OMPI_COMM_WORLD_RANK": rank,
        "OMPI_COMM_WORLD_SIZE": world,
        "OMPI_COMM_WORLD_LOCAL_RANK": local,
        "OMPI_COMM_WORLD_LOCAL_SIZE": per_node,
    }
    return {key: str(value) for key, value in values.items()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: python -m airflow_mlw.launch <processes> <per node> -- <command...>", file=sys.stderr)
        return 2
    world, per_node, command = int(argv[0]), int(argv[1]), argv[3:]
    port = free_port()
    processes = [
        subprocess.Popen(command, env={**os.environ, **rank_environment(rank, world, per_node, port)})
        for rank in range(world)
    ]

    def stop(signum: int, _frame: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    codes = [process.wait() for process in processes]
    failed = [(rank, code) for rank, code in enumerate(codes) if code != 0]
    for rank, code in failed:
        print(f"process of rank {rank} exited with code {code}", file=sys.stderr)
    return failed[0][1] if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
