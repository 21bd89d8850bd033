"""A ParallelRunStep's mini-batches: the input split in input order, and each batch's key."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any


class Batch:
    """One mini-batch: its position, what ``run()`` gets, and how many items it holds."""

    def __init__(self, index: int, items: Any, count: int, label: str) -> None:
        self.index = index
        self.items = items
        self.count = count
        self.label = label
        self.tries = 0
        self.errors: list[str] = []
        self.seconds = 0.0
        self.result: list[str] | None = None


# -- planning --------------------------------------------------------------------------------------


def plan(config: dict[str, Any], data: Any) -> list[Batch]:
    """The mini-batches of ``data`` (``run.input_datasets[...]``), in input order."""
    spec = config["mini_batch"]
    if getattr(data, "kind", "file") == "tabular":
        frame = data.to_pandas_dataframe()
        if spec.get("partitions"):
            keys = config["partition_keys"]
            missing = [k for k in keys if k not in frame.columns]
            if missing:
                raise SystemExit(
                    f"partition_keys {missing} are not columns of the input: {list(frame.columns)}"
                )
            groups = frame.groupby(keys, sort=False, dropna=False).indices
            return [
                Batch(
                    i,
                    frame.iloc[rows].reset_index(drop=True),
                    len(rows),
                    f"{dict(zip(keys, _tuple(key), strict=False))}",
                )
                for i, (key, rows) in enumerate(groups.items())
            ]
        per_row = max(1, int(frame.memory_usage(index=False, deep=True).sum()) // max(1, len(frame)))
        rows = max(1, spec["bytes"] // per_row)
        return [
            Batch(
                i,
                frame.iloc[start : start + rows].reset_index(drop=True),
                len(frame.iloc[start : start + rows]),
                f"rows {start}-{min(start + rows, len(frame)) - 1}",
            )
            for i, start in enumerate(range(0, len(frame), rows))
        ]
    root = Path(str(data))
    files = sorted(_files_below(str(root))) if root.is_dir() else [str(root)]
    if spec.get("partitions"):
        from airflow_mlw.datasets.partitions import parse_format

        fmt_text = getattr(data, "partition_format", None)
        if not fmt_text:
            raise SystemExit("partition_keys need an input dataset defined with partition_format")
        fmt = parse_format(fmt_text)
        unknown = [k for k in config["partition_keys"] if k not in fmt.keys]
        if unknown:
            raise SystemExit(f"partition_keys {unknown} are not keys of partition_format {fmt_text!r}")
        by_key: dict[tuple[Any, ...], list[str]] = {}
        for path in files:
            relative = os.path.relpath(path, root)
            values = fmt.values(_Entry(relative)) or {}  # type: ignore[arg-type]
            by_key.setdefault(tuple(values.get(k) for k in config["partition_keys"]), []).append(path)
        return [
            Batch(i, paths, len(paths), str(dict(zip(config["partition_keys"], key, strict=False))))
            for i, (key, paths) in enumerate(by_key.items())
        ]
    size = spec["files"]
    return [
        Batch(
            i,
            files[start : start + size],
            len(files[start : start + size]),
            f"files {start}-{min(start + size, len(files)) - 1}",
        )
        for i, start in enumerate(range(0, len(files), size))
    ]


def _files_below(folder: str) -> list[str]:
    """Every file below ``folder`` (links followed: a mounted input is links to its files)."""
    found = []
    for entry in os.scandir(folder):
        if entry.is_dir():
            found.extend(_files_below(entry.path))
        elif entry.is_file():
            found.append(entry.path)
    return found


class _Entry:
    """The two fields ``PartitionFormat.values`` reads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.location = path


def _tuple(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


# -- keys ------------------------------------------------------------------------------------------


def batch_key(salt: str, batch: Batch, root: str | None, known: dict[str, str] | None = None) -> str:
    """What a batch's result depends on: the step (``salt``: script, configuration, environment,
    side inputs) and the content of its items — file paths and bytes (``known``: relative path ->
    content hash from the input's validated manifest, so the file is not read), or the rows."""
    digest = hashlib.sha256(salt.encode())
    if isinstance(batch.items, list):
        prefix = root.rstrip("/") + "/" if root else ""
        for path in batch.items:
            # Paths below the root (the planner's own): cut, not os.path.relpath (20,000 calls: 0.35 s).
            relative = path[len(prefix) :] if prefix and path.startswith(prefix) else path
            digest.update(relative.encode())
            if known and relative in known:
                digest.update(known[relative].encode())
                continue
            with open(path, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    else:
        import pandas

        digest.update(",".join(map(str, batch.items.columns)).encode())
        digest.update(pandas.util.hash_pandas_object(batch.items, index=False).values.tobytes())
    return digest.hexdigest()[:40]
