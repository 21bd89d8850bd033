"""Module-level lazy attributes, so façade imports load no Airflow, SQLAlchemy or Docker code."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    module_name: str, exports: dict[str, str], submodules: bool = False
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``__getattr__`` and ``__dir__`` for a module re-exporting ``exports``.

    :param module_name: the ``__name__`` of the re-exporting module
    :param exports: public name -> ``"package.module"`` (attribute of the same name) or
        ``"package.module:attribute"``
    :param submodules: a package's public submodules are attributes too, imported on first
        access (``import azureml.core`` makes ``azureml.data.…`` reachable; so does this)
    """

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None and submodules and not name.startswith("_") and _has_submodule(module_name, name):
            return importlib.import_module(f"{module_name}.{name}")
        if target is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        path, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(path), attribute or name)
        globals_of_module = importlib.import_module(module_name).__dict__
        globals_of_module[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | (set(_public_submodules(module_name)) if submodules else set()))

    return __getattr__, __dir__


def _has_submodule(package: str, name: str) -> bool:
    return name in _public_submodules(package)


def _public_submodules(package: str) -> list[str]:
    import pkgutil
    import sys

    path = getattr(sys.modules.get(package), "__path__", None)
    if path is None:
        return []
    return [info.name for info in pkgutil.iter_modules(path) if not info.name.startswith("_")]


class LazyModule:
    """A module imported on first attribute access (``lazy_module("pkg.mod").func(...)``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


def lazy_module(name: str) -> Any:
    """``name``, imported when first used: for modules that need packages an environment may lack."""
    return LazyModule(name)


def loaded_class(module: str, name: str) -> Any:
    """Class ``name`` of ``module`` when that module is imported, else a class without instances:
    ``isinstance`` checks need no import of modules nobody has used (DAG files parse faster)."""
    import sys

    loaded = sys.modules.get(module)
    return getattr(loaded, name) if loaded is not None else _Never


class _Never:
    """No object is an instance of this: it stands for a class whose module nobody imported."""
