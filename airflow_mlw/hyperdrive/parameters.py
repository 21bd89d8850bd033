"""HyperDrive's parameter expressions (Azure's ``choice``, ``uniform``, ``loguniform``...).

An expression only says how a value is drawn; the samplers (``hyperdrive.sampling``) draw it
through Optuna. Each expression maps to one Optuna distribution over an *internal* value and a
transform to the value the script gets: ``loguniform(a, b)`` is Optuna's log-scaled float between
``exp(a)`` and ``exp(b)``; a normal is drawn as a quantile in (0, 1) and mapped through the normal's
inverse CDF; a ``q`` variant rounds the drawn value to a multiple of ``q``, as Azure does.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import UserErrorException

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


class HyperDriveConfigError(UserErrorException):
    """A sweep that cannot run as configured (the message names the parameter or setting)."""


#: Quantiles a normal is drawn from: the open interval (0, 1), clipped so that the inverse CDF is finite.
_QUANTILE_EDGE = 1e-9


@dataclass(frozen=True)
class ParameterExpression:
    """One parameter's distribution: Azure's expression name and its arguments."""

    name: str
    arguments: tuple[Any, ...]

    @property
    def is_discrete(self) -> bool:
        return self.name == "choice"

    def options(self) -> list[Any]:
        """The values of a ``choice`` (what grid sampling enumerates)."""
        if self.name != "choice":
            raise HyperDriveConfigError(f"{self.name} is a continuous expression; only choice has options")
        return list(self.arguments)

    def distribution(self) -> BaseDistribution:
        """The Optuna distribution of the internal value."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        name, args = self.name, self.arguments
        if name == "choice":  # indices: Optuna's categorical choices must be plain scalars
            return CategoricalDistribution(list(range(len(args))))
        if name == "randint":
            return IntDistribution(0, int(args[0]) - 1)
        if name in ("uniform", "quniform"):
            return FloatDistribution(float(args[0]), float(args[1]))
        if name in ("loguniform", "qloguniform"):
            return FloatDistribution(math.exp(args[0]), math.exp(args[1]), log=True)
        # normal, qnormal, lognormal, qlognormal: a quantile, mapped in value()
        return FloatDistribution(_QUANTILE_EDGE, 1 - _QUANTILE_EDGE)

    def value(self, internal: Any) -> Any:
        """The value the script gets for an internal value Optuna drew."""
        name, args = self.name, self.arguments
        if name == "choice":
            return args[int(internal)]
        if name == "randint":
            return int(internal)
        if name in ("uniform", "loguniform"):
            return float(internal)
        if name in ("quniform", "qloguniform"):
            return _quantized(float(internal), args[2])
        drawn = statistics.NormalDist(float(args[0]), float(args[1])).inv_cdf(float(internal))
        if name.startswith("qlog") or name == "lognormal":
            drawn = math.exp(drawn)
        return _quantized(drawn, args[2]) if name.startswith("q") else drawn

    def to_azure(self) -> list[Any]:
        """Azure's serialised form, ``[name, [arguments]]`` (``choice``: ``["choice", [[options]]]``)."""
        if self.name == "choice":
            return ["choice", [list(self.arguments)]]
        return [self.name, list(self.arguments)]

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(repr(a) for a in self.arguments)})"


def _quantized(value: float, q: Any) -> float:
    quantized = round(value / float(q)) * float(q)
    return int(quantized) if isinstance(q, int) and not isinstance(q, bool) else quantized


def _numbers(name: str, args: tuple[Any, ...], count: int) -> tuple[Any, ...]:
    if len(args) != count or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
        raise HyperDriveConfigError(f"{name} takes {count} numbers, got {args!r}")
    return args


def choice(*options: Any) -> ParameterExpression:
    """One of ``options``: ``choice(1, 2, 3)``, ``choice([1, 2, 3])`` or ``choice(range(1, 10))``."""
    if len(options) == 1 and isinstance(options[0], list | tuple | range):
        options = tuple(options[0])
    if not options:
        raise HyperDriveConfigError("choice needs at least one option")
    return ParameterExpression("choice", tuple(options))


def randint(upper: int) -> ParameterExpression:
    """An integer in ``[0, upper)``."""
    if not isinstance(upper, int) or isinstance(upper, bool) or upper < 1:
        raise HyperDriveConfigError(f"randint(upper) needs a positive integer, got {upper!r}")
    return ParameterExpression("randint", (upper,))


def uniform(min_value: float, max_value: float) -> ParameterExpression:
    """A float drawn uniformly between ``min_value`` and ``max_value``."""
    return _bounded("uniform", (min_value, max_value))


def quniform(min_value: float, max_value: float, q: float) -> ParameterExpression:
    """``round(uniform(min_value, max_value) / q) * q``."""
    return _bounded("quniform", (min_value, max_value, q))


def loguniform(min_value: float, max_value: float) -> ParameterExpression:
    """``exp(uniform(min_value, max_value))``: its logarithm is uniform (bounds are in log space)."""
    return _bounded("loguniform", (min_value, max_value))


def qloguniform(min_value: float, max_value: float, q: float) -> ParameterExpression:
    """``round(exp(uniform(min_value, max_value)) / q) * q``."""
    return _bounded("qloguniform", (min_value, max_value, q))


def normal(mu: float, sigma: float) -> ParameterExpression:
    """A float from the normal distribution of mean ``mu`` and standard deviation ``sigma``."""
    return _spread("normal", (mu, sigma))


def qnormal(mu: float, sigma: float, q: float) -> ParameterExpression:
    """``round(normal(mu, sigma) / q) * q``."""
    return _spread("qnormal", (mu, sigma, q))


def lognormal(mu: float, sigma: float) -> ParameterExpression:
    """``exp(normal(mu, sigma))``."""
    return _spread("lognormal", (mu, sigma))


def qlognormal(mu: float, sigma: float, q: float) -> ParameterExpression:
    """``round(exp(normal(mu, sigma)) / q) * q``."""
    return _spread("qlognormal", (mu, sigma, q))


def _bounded(name: str, args: tuple[Any, ...]) -> ParameterExpression:
    _numbers(name, args, len(args))
    if args[0] >= args[1]:
        raise HyperDriveConfigError(f"{name}: min_value {args[0]!r} must be below max_value {args[1]!r}")
    if len(args) == 3 and args[2] <= 0:
        raise HyperDriveConfigError(f"{name}: q must be positive, got {args[2]!r}")
    return ParameterExpression(name, args)


def _spread(name: str, args: tuple[Any, ...]) -> ParameterExpression:
    _numbers(name, args, len(args))
    if args[1] <= 0:
        raise HyperDriveConfigError(f"{name}: sigma must be positive, got {args[1]!r}")
    if len(args) == 3 and args[2] <= 0:
        raise HyperDriveConfigError(f"{name}: q must be positive, got {args[2]!r}")
    return ParameterExpression(name, args)


#: Azure's expression names -> their constructors.
EXPRESSIONS = {
    f.__name__: f
    for f in (
        choice,
        randint,
        uniform,
        quniform,
        loguniform,
        qloguniform,
        normal,
        qnormal,
        lognormal,
        qlognormal,
    )
}


def parameter_space(space: Any) -> dict[str, ParameterExpression]:
    """A parameter space -> name -> expression; Azure's serialised ``[name, [args]]`` form is read
    too. Anything else is an error naming the parameter."""
    if not isinstance(space, dict) or not space:
        raise HyperDriveConfigError(
            "parameter_space must be a non-empty dict of argument name -> parameter expression"
        )
    parsed: dict[str, ParameterExpression] = {}
    for name, expression in space.items():
        if not isinstance(name, str) or not name.strip("-"):
            raise HyperDriveConfigError(f"parameter name {name!r} must be a non-empty string")
        if isinstance(expression, ParameterExpression):
            parsed[name] = expression
            continue
        if (
            isinstance(expression, list | tuple)
            and len(expression) == 2
            and isinstance(expression[0], str)
            and isinstance(expression[1], list | tuple)
        ):
            kind, args = expression
            if kind not in EXPRESSIONS:
                raise HyperDriveConfigError(
                    f"parameter {name!r}: unknown parameter expression {kind!r}; known: {', '.join(EXPRESSIONS)}"
                )
            args = args[0] if kind == "choice" and len(args) == 1 else args
            parsed[name] = EXPRESSIONS[kind](*([args] if kind == "choice" else args))
            continue
        raise HyperDriveConfigError(
            f"parameter {name!r}: {expression!r} is not a parameter expression; use one of "
            f"{', '.join(EXPRESSIONS)} from airflow_mlw.train.hyperdrive"
        )
    return parsed
