"""Version numbers are allocated atomically: N concurrent allocations give 1..N exactly."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_mlw.registry.rows import WorkspaceRow
from airflow_mlw.registry.store import RegistryStore

N = 32


def allocate_one(url: str) -> int:
    store = RegistryStore(url)
    with store.session(write=True) as session:
        version = store.allocate_version(session, "dataset", 1, "csv_table")
    store.dispose()
    return version


def make_workspace(url: str) -> None:
    store = RegistryStore(url)
    with store.session(write=True) as session:
        session.add(WorkspaceRow(name="w", default_datastore="workspacelocalstore"))
    store.dispose()


def test_concurrent_threads_get_distinct_consecutive_versions(registry_url: str) -> None:
    make_workspace(registry_url)
    store = RegistryStore(registry_url)

    def allocate(_: int) -> int:
        with store.session(write=True) as session:
            return store.allocate_version(session, "dataset", 1, "csv_table")

    with ThreadPoolExecutor(max_workers=N) as pool:
        versions = list(pool.map(allocate, range(N)))
    store.dispose()
    assert sorted(versions) == list(range(1, N + 1))


def test_concurrent_processes_get_distinct_consecutive_versions(registry_url: str) -> None:
    make_workspace(registry_url)
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        versions = pool.map(allocate_one, [registry_url] * N)
    assert sorted(versions) == list(range(1, N + 1))


def test_rolled_back_allocation_gives_its_number_back(registry_url: str) -> None:
    make_workspace(registry_url)
    store = RegistryStore(registry_url)
    with pytest.raises(RuntimeError), store.session(write=True) as session:
        assert store.allocate_version(session, "dataset", 1, "t") == 1
        raise RuntimeError("registration failed midway")
    with store.session(write=True) as session:
        assert store.allocate_version(session, "dataset", 1, "t") == 1
        assert store.allocate_version(session, "dataset", 1, "other") == 1
    store.dispose()
