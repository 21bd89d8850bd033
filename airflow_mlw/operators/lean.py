"""An operator base Airflow builds with less work per attribute: DAG files with many steps are
parsed every 30 s, and Airflow's constructor sets ~60 attributes, each through
``BaseOperator.__setattr__`` (a converter lookup, XComArg wiring, the kept arguments)."""

from __future__ import annotations

import functools
from typing import Any

from airflow.sdk import BaseOperator


class LeanOperator(BaseOperator):
    """Until the operator is built, an attribute without a converter is set directly (keeping the
    arguments Airflow keeps); afterwards, and for converted attributes, Airflow's own path."""

    def __setattr__(self, key: str, value: Any) -> None:
        state = self.__dict__
        if key in _converted_attributes(type(self)) or state.get("_BaseOperator__instantiated"):
            super().__setattr__(key, value)
            return
        object.__setattr__(self, key, value)
        given = state.get("_BaseOperator__init_kwargs")
        if (
            given
            and key in given
            and not (state.get("_BaseOperator__from_mapped") or self._lock_for_execution)
        ):
            given[key] = value  # as BaseOperator.__setattr__ keeps them (mapped tasks, serialization)


@functools.cache
def _converted_attributes(operator_class: type) -> frozenset[str]:
    """Attributes Airflow converts when set (``BaseOperator._convert_<name>``)."""
    return frozenset(
        name.removeprefix("_convert_") for name in dir(operator_class) if name.startswith("_convert_")
    )
