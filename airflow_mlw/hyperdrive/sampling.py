"""Sampling of a parameter space (Azure's ``RandomParameterSampling``, ``GridParameterSampling``,
``BayesianParameterSampling``), backed by Optuna's ``RandomSampler``, ``GridSampler`` and
``TPESampler``.

Every sampler is seeded: ``properties={"seed": N}``, else a seed derived from the space, so the
same sweep draws the same configurations (and an unchanged ``HyperDriveStep`` is reused whole).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from airflow_mlw.hyperdrive.parameters import HyperDriveConfigError, ParameterExpression
from airflow_mlw.hyperdrive.parameters import parameter_space as parsed_space


class HyperParameterSampling:
    """A parameter space and how to sample it (the shared part of Azure's three samplings)."""

    #: Azure's sampling names (``sampling.get_name()`` / the sweep's properties).
    sampling_name = ""
    supports_early_termination = True

    def __init__(self, parameter_space: dict[str, Any], properties: dict[str, Any] | None = None) -> None:
        self._parameter_space = parsed_space(parameter_space)
        self._properties = dict(properties or {})
        seed = self._properties.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise HyperDriveConfigError(f"properties['seed'] must be an integer, got {seed!r}")

    def get_parameter_space(self) -> dict[str, list[Any]]:
        """The space in Azure's serialised form (``{"--lr": ["uniform", [0.01, 0.1]]}``)."""
        return {name: expression.to_azure() for name, expression in self._parameter_space.items()}

    @property
    def expressions(self) -> dict[str, ParameterExpression]:
        return dict(self._parameter_space)

    @property
    def seed(self) -> int:
        """The sampler's seed: ``properties['seed']``, else one derived from the space."""
        seed = self._properties.get("seed")
        if seed is not None:
            return int(seed)
        digest = hashlib.sha256(self.definition_text().encode()).hexdigest()
        return int(digest[:8], 16)

    def definition_text(self) -> str:
        """The sampling as canonical JSON (part of a HyperDriveStep's reuse key)."""
        return json.dumps(
            {
                "sampling": self.sampling_name,
                "space": self.get_parameter_space(),
                "properties": self._properties,
            },
            sort_keys=True,
            default=str,
        )

    def max_configurations(self) -> int | None:
        """How many distinct configurations there are (``None``: unbounded)."""
        return None

    def optuna_sampler(self) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_parameter_space()!r})"


class RandomParameterSampling(HyperParameterSampling):
    """Each configuration drawn independently at random (Optuna's ``RandomSampler``)."""

    sampling_name = "RANDOM"

    def optuna_sampler(self) -> Any:
        from optuna.samplers import RandomSampler

        return RandomSampler(seed=self.seed)


class GridParameterSampling(HyperParameterSampling):
    """Every combination of ``choice`` values once (Optuna's ``GridSampler``); ``choice`` only."""

    sampling_name = "GRID"

    def __init__(self, parameter_space: dict[str, Any], properties: dict[str, Any] | None = None) -> None:
        super().__init__(parameter_space, properties)
        continuous = [name for name, e in self._parameter_space.items() if not e.is_discrete]
        if continuous:
            first = continuous[0]
            raise HyperDriveConfigError(
                f"grid sampling takes choice expressions only; parameter {first!r} is "
                f"{self._parameter_space[first]!r} (use RandomParameterSampling or BayesianParameterSampling)"
            )

    def max_configurations(self) -> int:
        total = 1
        for expression in self._parameter_space.values():
            total *= len(expression.options())
        return total

    def optuna_sampler(self) -> Any:
        from optuna.samplers import GridSampler

        class SweepGridSampler(GridSampler):
            # Optuna's stops the study from inside tell() when the grid is done, which only an
            # objective function may do; the sweep stops at the grid's size itself.
            def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
                pass

        grid = {name: list(range(len(e.options()))) for name, e in self._parameter_space.items()}
        return SweepGridSampler(grid, seed=self.seed)


class BayesianParameterSampling(HyperParameterSampling):
    """Each configuration chosen from how earlier ones did (Optuna's ``TPESampler``). As in Azure,
    no early-termination policy goes with it."""

    sampling_name = "BayesianOptimization"
    supports_early_termination = False

    def optuna_sampler(self) -> Any:
        from optuna.samplers import TPESampler

        # Azure starts Bayesian sweeps with random configurations too; a few, the sweeps are short.
        startup = int(self._properties.get("n_startup_trials", 5))
        return TPESampler(seed=self.seed, n_startup_trials=startup, multivariate=True)
