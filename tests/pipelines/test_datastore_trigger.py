"""The datastore-change trigger of ``Schedule(datastore=...)``, run directly (its async generator) on a
local folder, a moto S3 bucket and an Azurite container.

The generator is suspended at ``yield`` until the next event is asked for, so files written while
the test holds an event all land in the next polling window: batches are deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.pipelines.datastore_watch import WatchedPathNotFoundError
from airflow_mlw.pipelines.schedule import Schedule

POLL_MINUTES = 0.001  # 0.06 s


def trigger_of(datastore: Any, path: str = "in", **kwargs: Any) -> Any:
    """The trigger exactly as a DAG file's ``Schedule(datastore=...)`` builds it."""
    asset = Schedule(
        datastore=datastore, path_on_datastore=path, polling_interval=POLL_MINUTES, **kwargs
    ).asset()
    return asset.watchers[0].trigger


def put(datastore: Any, tmp_path: Path, files: dict[str, str]) -> None:
    """Upload ``{datastore path: text}`` through the datastore (overwriting)."""
    source = tmp_path / "upload"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    datastore.upload_files(
        [source / name for name in files], relative_root=source, overwrite=True, show_progress=False
    )


async def started(trigger: Any) -> tuple[AsyncIterator[Any], asyncio.Task[Any]]:
    """The running generator, once it has its baseline (or its stored snapshot)."""
    generator = trigger.run()
    first = asyncio.ensure_future(generator.__anext__())
    _, state = await asyncio.to_thread(trigger._watch)
    for _ in range(500):
        if state.path.exists() or first.done():
            break
        await asyncio.sleep(0.01)
    return generator, first


def changed(event: Any) -> list[str]:
    assert event.payload["changed_count"] == len(event.payload["changed"])
    return list(event.payload["changed"])


def test_fires_once_per_window_for_new_and_modified_files(file_datastore: Any, tmp_path: Path) -> None:
    put(file_datastore, tmp_path, {"in/before.csv": "present at start"})
    trigger = trigger_of(file_datastore, data_path_parameter_name="incoming")

    async def scenario() -> list[Any]:
        generator, first = await started(trigger)
        await asyncio.to_thread(put, file_datastore, tmp_path, {"in/a.csv": "1"})
        events = [await asyncio.wait_for(first, 60)]
        # Held at `yield`: the next three files and a file in a sub-folder land in one window.
        await asyncio.to_thread(
            put,
            file_datastore,
            tmp_path,
            {"in/b.csv": "2", "in/c.csv": "3", "in/d.csv": "4", "in/sub/deep.csv": "5"},
        )
        events.append(await asyncio.wait_for(generator.__anext__(), 60))
        await asyncio.to_thread(put, file_datastore, tmp_path, {"in/b.csv": "X"})  # same size, new content
        events.append(await asyncio.wait_for(generator.__anext__(), 60))
        await generator.aclose()  # type: ignore[attr-defined]
        return events

    first, batch, modified = asyncio.run(scenario())
    assert changed(first) == ["in/a.csv"]
    assert first.payload["data_path"] == {"DataStoreName": "files", "RelativePath": "in/a.csv"}
    assert first.payload["data_path_parameter_name"] == "incoming"
    # One event for the batch; not recursive, so in/sub/deep.csv is not part of it.
    assert changed(batch) == ["in/b.csv", "in/c.csv", "in/d.csv"]
    assert batch.payload["data_path"] == {"DataStoreName": "files", "RelativePath": "in"}
    assert changed(modified) == ["in/b.csv"]


def test_snapshot_survives_a_triggerer_restart(file_datastore: Any, tmp_path: Path) -> None:
    put(file_datastore, tmp_path, {"in/old.csv": "old"})

    async def first_life() -> None:
        generator, first = await started(trigger_of(file_datastore))
        await asyncio.to_thread(put, file_datastore, tmp_path, {"in/seen.csv": "seen"})
        assert changed(await asyncio.wait_for(first, 60)) == ["in/seen.csv"]
        await generator.aclose()  # type: ignore[attr-defined]

    async def second_life() -> Any:
        generator, first = await started(trigger_of(file_datastore))
        event = await asyncio.wait_for(first, 60)
        await generator.aclose()  # type: ignore[attr-defined]
        return event

    asyncio.run(first_life())
    # Written while no triggerer ran: the restarted watcher fires for it, and only for it.
    put(file_datastore, tmp_path, {"in/while_down.csv": "new"})
    assert changed(asyncio.run(second_life())) == ["in/while_down.csv"]


def test_missing_path_fails_naming_datastore_and_path(file_datastore: Any) -> None:
    trigger = trigger_of(file_datastore, path="no/such/folder")

    async def scenario() -> None:
        await trigger.run().__anext__()

    with pytest.raises(WatchedPathNotFoundError, match=r"datastore 'files' has no path 'no/such/folder'"):
        asyncio.run(scenario())


def test_recursive_watch_of_the_whole_datastore(workspace: Any, tmp_path: Path) -> None:
    from airflow_mlw import Datastore

    datastore = Datastore.register_local(workspace, "files", tmp_path / "store")
    (tmp_path / "store").mkdir()
    trigger = trigger_of(datastore, path="", recursive=True)

    async def scenario() -> Any:
        generator, first = await started(trigger)
        await asyncio.to_thread(put, datastore, tmp_path, {"a/b/c.csv": "1", "a/d.csv": "2"})
        event = await asyncio.wait_for(first, 60)
        await generator.aclose()  # type: ignore[attr-defined]
        return event

    event = asyncio.run(scenario())
    assert changed(event) == ["a/b/c.csv", "a/d.csv"]
    assert event.payload["data_path"]["RelativePath"] == "a"


def test_trigger_round_trips_through_its_serialized_form(workspace: Any, tmp_path: Path) -> None:
    from airflow_mlw import Datastore
    from airflow_mlw.triggers.datastore import DatastoreChangeTrigger

    trigger = trigger_of(Datastore(workspace, "files"), path="/in/", recursive=True)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_mlw.triggers.datastore.DatastoreChangeTrigger"
    assert kwargs["path"] == "in" and kwargs["recursive"] is True
    assert kwargs["poll_interval"] == pytest.approx(POLL_MINUTES * 60)
    assert kwargs["workspace_name"] == "test" and kwargs["registry_url"] == workspace._registry_url
    assert DatastoreChangeTrigger(**kwargs).serialize() == (classpath, kwargs)
