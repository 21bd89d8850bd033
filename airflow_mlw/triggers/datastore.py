"""The asset-watcher trigger of datastore-change schedules (``Schedule(datastore=..., ...)`` in DAG code).

It polls a datastore path through the datastore's storage backend (local folder, S3, Azure Blob)
and fires one event per polling window in which files were added or modified, carrying the list
of changed files. Its last snapshot is kept in the mlw home cache, so a restarted triggerer
resumes from it; the files present when a watcher first starts never fire it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent


class DatastoreChangeTrigger(BaseEventTrigger):
    """Fire when files at ``path`` on ``datastore`` are added or modified, once per polling window.

    :param datastore: datastore name (``workspaceblobstore`` means the default datastore)
    :param path: folder or file to watch, relative to the datastore root (``""``: the whole datastore)
    :param recursive: also watch files in sub-folders of ``path``
    :param poll_interval: seconds between two listings
    :param data_path_parameter_name: the ``DataPath`` pipeline parameter the triggered run points
        at the changed path (carried in the event payload)
    :param watcher: name of the watcher; part of the key of the stored snapshot
    :param workspace_name: workspace (default: the configured one)
    :param registry_url: registry URL without password (default: the configured one)
    :param config_path: workspace config file the DAG named, if any
    """

    def __init__(
        self,
        datastore: str,
        path: str = "",
        recursive: bool = False,
        poll_interval: float = 300.0,
        data_path_parameter_name: str | None = None,
        watcher: str = "",
        workspace_name: str | None = None,
        registry_url: str | None = None,
        config_path: str | None = None,
    ) -> None:
        super().__init__()
        self.datastore = datastore
        self.path = path
        self.recursive = recursive
        self.poll_interval = poll_interval
        self.data_path_parameter_name = data_path_parameter_name
        self.watcher = watcher
        self.workspace_name = workspace_name
        self.registry_url = registry_url
        self.config_path = config_path

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "datastore": self.datastore,
                "path": self.path,
                "recursive": self.recursive,
                "poll_interval": self.poll_interval,
                "data_path_parameter_name": self.data_path_parameter_name,
                "watcher": self.watcher,
                "workspace_name": self.workspace_name,
                "registry_url": self.registry_url,
                "config_path": self.config_path,
            },
        )

    def _watch(self) -> tuple[Any, Any]:
        """The datastore and the stored-snapshot file (reads the registry: call in a thread)."""
        from airflow_mlw.datastores import Datastore
        from airflow_mlw.datastores.watch import WatchStateFile, check_watched_path
        from airflow_mlw.workspace import Workspace

        if self.workspace_name or self.registry_url or self.config_path:
            workspace = Workspace(
                workspace_name=self.workspace_name,
                registry_url=self.registry_url,
                _config_path=self.config_path,
                _create_if_missing=True,
            )
        else:
            workspace = Workspace.from_config()
        datastore = Datastore.get(workspace, self.datastore)
        check_watched_path(datastore, self.path)
        key = {
            "registry": workspace.registry_url,
            "workspace": workspace.name,
            "datastore": datastore.name,
            "path": self.path,
            "recursive": self.recursive,
            "watcher": self.watcher,
        }
        return datastore, WatchStateFile(workspace.settings.home, key)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_mlw.datastores.watch import changed_files, event_payload, snapshot

        datastore, state = await asyncio.to_thread(self._watch)
        previous = await asyncio.to_thread(state.load)
        if previous is None:
            previous = await asyncio.to_thread(snapshot, datastore, self.path, self.recursive)
            await asyncio.to_thread(state.save, previous)
            self.log.info(
                "watching %s on datastore %r: baseline of %d file(s)",
                self.path or "the root",
                datastore.name,
                len(previous),
            )
        while True:
            current = await asyncio.to_thread(snapshot, datastore, self.path, self.recursive)
            changed = changed_files(previous, current)
            if current != previous:
                await asyncio.to_thread(state.save, current)
                previous = current
            if changed:
                self.log.info("%d file(s) changed on datastore %r", len(changed), datastore.name)
                yield TriggerEvent(
                    event_payload(datastore.name, self.path, changed, self.data_path_parameter_name)
                )
            await asyncio.sleep(self.poll_interval)
