"""Step reuse that is never stale: a content-based key, decided before any work, explained on a miss.

Reuse key = SHA-256 over a canonical document of: key schema version, step type, script, the
source-directory tree hash (relative path + bytes, honouring ``.mlwignore``, else ``.amlignore``,
else ``.gitignore`` at its root), resolved arguments (data appear as marks, never as paths),
params, input content fingerprints (never names, paths or run ids), output names with their
datastore's identity, the environment (spec hash; for Docker the image tag, which covers the base
image's id), and the step ``version``. The compute target is not part of it: the same step on
another target gives the same result.

The document is stored with each step run, beside ``info`` (dataset names and versions, file
hashes) that explains a miss but is not hashed. The document (:func:`key_document`), its hash
(:func:`reuse_key`) and the explanation of a miss (:func:`explain`, also ``mlw cache explain``) live
here together, so the field names are defined once.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import time
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from airflow_mlw.datastores import Datastore
from airflow_mlw.datastores.checksums import memo_for_home
from airflow_mlw.execution.inputs import StepInput
from airflow_mlw.execution.outputs import output_exists
from airflow_mlw.registry.rows import ReuseLeaseRow, RunRow

log = logging.getLogger(__name__)
KEY_SCHEMA = 1
IGNORE_FILES = (".mlwignore", ".amlignore", ".gitignore")
LEASE_SECONDS = 3600
WAIT_POLL_SECONDS = 1.0


# -- source tree ----------------------------------------------------------------------------------


def ignore_patterns(root: Path) -> list[str]:
    """Patterns of the first ignore file found at the root (``.mlwignore``, ``.amlignore``, ``.gitignore``)."""
    for name in IGNORE_FILES:
        path = root / name
        if path.is_file():
            lines = path.read_text(errors="replace").splitlines()
            return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return []


def ignored(relative: str, is_dir: bool, patterns: list[str]) -> bool:
    """gitignore-style matching (``*``, ``**``, trailing ``/`` for folders, leading ``/`` anchors, ``!`` re-includes)."""
    result = False
    name = relative.rsplit("/", 1)[-1]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        if pattern.endswith("/"):
            if not is_dir:
                continue
            pattern = pattern.rstrip("/")
        anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
        pattern = pattern.lstrip("/")
        if anchored:
            hit = fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(
                relative, pattern.replace("**/", "")
            )
        else:
            hit = fnmatch.fnmatchcase(name, pattern)
        if hit:
            result = not negate
    return result


def source_tree(root: str | os.PathLike[str], memo: Any) -> tuple[str, dict[str, str]]:
    """(tree hash, relative path -> SHA-256) of the files under ``root`` that are not ignored.

    File hashes come from the (inode, size, mtime_ns) memo, so an unchanged tree reads no file.
    Timestamps are not hashed.
    """
    base = Path(root)
    patterns = ignore_patterns(base)
    files: dict[str, str] = {}
    stack = [(base, "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in os.scandir(folder):
            relative = f"{prefix}{entry.name}"
            is_dir = entry.is_dir(follow_symlinks=False)
            if entry.name in (".git", "__pycache__") or ignored(relative, is_dir, patterns):
                continue
            if is_dir:
                stack.append((Path(entry.path), relative + "/"))
            elif entry.is_file():
                files[relative] = memo.digest(entry.path, "sha256", entry.stat())
    memo.flush()
    digest = hashlib.sha256()
    for relative in sorted(files):
        digest.update(f"{relative}\0{files[relative]}\n".encode())
    return digest.hexdigest(), files


# -- the key --------------------------------------------------------------------------------------


def key_document(
    workspace: Any,
    *,
    script: str,
    source_directory: str,
    arguments: list[str],
    params: dict[str, Any],
    inputs: list[StepInput],
    outputs: list[dict[str, Any]],
    environment: str,
    environment_name: str,
    version: str | None,
    datastores: dict[Any, Datastore] | None = None,
) -> dict[str, Any]:
    """The reuse key's document of one step run; reads listings and the registry, never input data.

    :param inputs: the step's inputs, bound to the DAG run
    :param outputs: the step's output specs (``name``, ``datastore``, ``destination``)
    :param environment: the environment's identity (spec hash; for Docker the image tag)
    :param datastores: datastores already looked up, by requested name (filled in here)
    """

    tree, files = source_tree(source_directory, memo_for_home(workspace.settings.home))
    fingerprints, inputs_info = {}, {}
    for item in inputs:
        fingerprints[item.name], inputs_info[item.name] = item.fingerprint(workspace)
    output_keys = {}
    known = {} if datastores is None else datastores
    for spec in outputs:
        requested = spec.get("datastore")
        datastore = known.get(requested) or known.setdefault(requested, Datastore(workspace, requested))
        output_keys[spec["name"]] = {
            "datastore": datastore.kind,
            **datastore.config,
            "destination": spec.get("destination"),
        }
    return {
        "key": {
            "schema": KEY_SCHEMA,
            "step_type": "script" if script else "command",
            "script": script,
            "source": tree,
            "arguments": list(arguments),
            "params": dict(params),
            "inputs": fingerprints,
            "outputs": output_keys,
            "environment": environment,
            "version": version,
        },
        "info": {"source_files": files, "inputs": inputs_info, "environment_name": environment_name},
    }


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)


def reuse_key(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(document["key"]).encode()).hexdigest()


def explain(previous: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """Which components changed since ``previous`` (the last run of the same step), in words."""
    if previous is None:
        return ["no earlier run of this step"]
    old, new = previous.get("key", {}), current["key"]
    old_info, new_info = previous.get("info", {}), current.get("info", {})
    reasons: list[str] = []
    if old.get("schema") != new.get("schema"):
        reasons.append(f"key schema {old.get('schema')} -> {new.get('schema')}")
    if old.get("script") != new.get("script"):
        reasons.append(f"script {old.get('script')} -> {new.get('script')}")
    if old.get("source") != new.get("source"):
        old_files, new_files = old_info.get("source_files", {}), new_info.get("source_files", {})
        for path in sorted(set(old_files) | set(new_files)):
            if path not in old_files:
                reasons.append(f"source file {path} added")
            elif path not in new_files:
                reasons.append(f"source file {path} removed")
            elif old_files[path] != new_files[path]:
                reasons.append(f"source file {path} changed")
        if not reasons or not any(r.startswith("source file") for r in reasons):
            reasons.append("source directory changed")
    if old.get("arguments") != new.get("arguments"):
        old_args, new_args = old.get("arguments", []), new.get("arguments", [])
        pairs = [f"{a} -> {b}" for a, b in zip(old_args, new_args, strict=False) if a != b]
        if len(old_args) != len(new_args):
            pairs.append(f"{len(old_args)} -> {len(new_args)} arguments")
        reasons.append("argument " + ", ".join(pairs))
    if old.get("params") != new.get("params"):
        reasons.append(f"params {old.get('params')} -> {new.get('params')}")
    for name in sorted(set(old.get("inputs", {})) | set(new.get("inputs", {}))):
        before, after = old.get("inputs", {}).get(name), new.get("inputs", {}).get(name)
        if before == after:
            continue
        was, now = old_info.get("inputs", {}).get(name, {}), new_info.get("inputs", {}).get(name, {})
        if was.get("dataset") and now.get("dataset"):
            reasons.append(
                f"input {name}: dataset {was['dataset']} v{was.get('version')} -> {now['dataset']} v{now.get('version')}"
            )
        else:
            reasons.append(f"input {name}: content {str(before)[:12]} -> {str(after)[:12]}")
    if old.get("outputs") != new.get("outputs"):
        reasons.append(f"outputs {sorted(old.get('outputs', {}))} -> {sorted(new.get('outputs', {}))}")
    if old.get("environment") != new.get("environment"):
        reasons.append("environment spec changed")
    if old.get("version") != new.get("version"):
        reasons.append(f"step version {old.get('version')} -> {new.get('version')}")
    return reasons or ["same key, but its earlier outputs are gone"]


# -- registry side --------------------------------------------------------------------------------


def find_hit(workspace: Any, key: str, datastores: dict[Any, Datastore] | None = None) -> Any:
    """The latest finished run with ``key`` whose outputs all still exist, or ``None``.

    :param datastores: datastores already looked up, by name (filled in here)
    """
    from sqlalchemy import select

    with workspace.store.session() as session:
        rows = session.scalars(
            select(RunRow)
            .where(
                RunRow.workspace_id == workspace._workspace_id(),
                RunRow.reuse_key == key,
                RunRow.status == "Finished",
            )
            .order_by(RunRow.finished_at.desc())
            .limit(5)
        ).all()
        for row in rows:
            session.expunge(row)
    for row in rows:
        origin = row.reused_from_id or row.id
        if all(output_exists(workspace, record, datastores) for record in (row.outputs or {}).values()):
            row.reused_from_id = origin
            return row
    return None


def last_run_of_step(workspace: Any, step_name: str, dag_id: str, exclude: str) -> dict[str, Any] | None:
    """The key document of the last finished run of the same step (for explaining a miss)."""
    from sqlalchemy import select

    with workspace.store.session() as session:
        document = session.scalar(
            select(RunRow.key_document)
            .where(
                RunRow.workspace_id == workspace._workspace_id(),
                RunRow.kind == "step",
                RunRow.name == step_name,
                RunRow.dag_id == dag_id,
                RunRow.id != exclude,
                RunRow.key_document.is_not(None),
            )
            .order_by(RunRow.created_at.desc())
            .limit(1)
        )
    return document


def acquire_lease(workspace: Any, key: str, holder: str) -> bool:
    """Single flight: True when this run may compute ``key``; False while another live run holds it."""
    from datetime import datetime

    now = datetime.now(UTC)
    ws_id = workspace._workspace_id()
    with workspace.store.session(write=True) as session:
        workspace.store.insert_ignore(
            session,
            ReuseLeaseRow,
            workspace_id=ws_id,
            reuse_key=key,
            holder=holder,
            expires_at=now + timedelta(seconds=LEASE_SECONDS),
        )
        lease = session.get(ReuseLeaseRow, (ws_id, key), with_for_update=True)
        assert lease is not None
        expires = lease.expires_at if lease.expires_at.tzinfo else lease.expires_at.replace(tzinfo=UTC)
        if lease.holder == holder:
            return True
        if expires < now:  # the holder crashed: take over
            lease.holder, lease.expires_at = holder, now + timedelta(seconds=LEASE_SECONDS)
            return True
        return False


def release_lease(workspace: Any, key: str, holder: str) -> None:
    from sqlalchemy import delete

    with workspace.store.session(write=True) as session:
        session.execute(
            delete(ReuseLeaseRow).where(
                ReuseLeaseRow.workspace_id == workspace._workspace_id(),
                ReuseLeaseRow.reuse_key == key,
                ReuseLeaseRow.holder == holder,
            )
        )


def wait_for_flight(workspace: Any, key: str, holder: str, timeout: float = LEASE_SECONDS) -> Any:
    """Wait while another run computes ``key``; its result (a hit) or ``None`` when we may run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = find_hit(workspace, key)
        if hit is not None:
            return hit
        if acquire_lease(workspace, key, holder):
            return None
        time.sleep(WAIT_POLL_SECONDS)
    return None
