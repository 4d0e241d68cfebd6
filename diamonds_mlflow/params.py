"""Every entry point's parameters, parsed and checked once, at the edge, before any work.

MLflow passes `-P name=value` pairs through as `--name value` without checking their type,
and appends names the MLproject does not declare; both are caught here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable

from diamonds_mlflow import data
from diamonds_mlflow.model import ModelParams


class ParameterError(ValueError):
    """A bad `-P name=value`; the message names the parameter and what it accepts."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # the MLproject type: int, float or string
    default: object
    rule: str = ""  # what is accepted, in words, for the error message
    valid: Callable[[object], bool] = lambda value: True


def _whole(text: str) -> int:
    number = float(text)
    if not number.is_integer():
        raise ValueError
    return int(number)


def _real(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError
    return number


CONVERT = {"int": _whole, "float": _real, "string": str}
_model = ModelParams()

SPLIT = (
    Param("test_size", "float", data.DEFAULT_TEST_SIZE, "a fraction strictly between 0 and 1",
          lambda v: 0 < v < 1),
    Param("seed", "int", data.DEFAULT_SEED, "a whole number ≥ 0", lambda v: v >= 0),
)
SOURCE = Param("source", "string", data.BUNDLED,
               f"'{data.BUNDLED}', or an existing CSV or Parquet file as an absolute path"
               " (steps run inside the project, so not a relative one: use $PWD/file.csv)"
               " or a URI",
               data.source_exists)
MODEL = (
    Param("max_depth", "int", _model.max_depth, "a whole number ≥ 1", lambda v: v >= 1),
    Param("max_leaf_nodes", "int", _model.max_leaf_nodes, "a whole number ≥ 2", lambda v: v >= 2),
    Param("learning_rate", "float", _model.learning_rate, "a number in (0, 1]",
          lambda v: 0 < v <= 1),
    Param("max_iter", "int", _model.max_iter, "a whole number ≥ 1", lambda v: v >= 1),
    Param("l2_regularization", "float", _model.l2_regularization, "a number ≥ 0",
          lambda v: v >= 0),
    Param("n_models", "int", _model.n_models, "a whole number from 2 to 10",
          lambda v: 2 <= v <= 10),
    Param("interval", "float", _model.interval, "a coverage strictly between 0 and 1",
          lambda v: 0 < v < 1),
    Param("price_weight", "float", _model.price_weight, "a weight from 0 to 1",
          lambda v: 0 <= v <= 1),
)
DATA = Param("data", "string", "",
             "empty (the default split) or a folder or URI holding train.parquet and test.parquet")
REGISTERED_MODEL = Param("registered_model", "string", "diamonds",
                         "a registered model name, or empty to register nothing")
PROMOTE_TRAIN = Param("promote", "string", "true", "true or false", lambda v: v in ("true", "false"))
PROMOTE_EVALUATE = Param("promote", "string", "false", "true or false",
                         lambda v: v in ("true", "false"))
MODEL_URI = Param("model_uri", "string", "",
                  "a model URI, or empty for the newest version of registered_model")

ENTRY_POINTS: dict[str, tuple[Param, ...]] = {
    "prepare": (SOURCE,) + SPLIT,
    "train": (DATA,) + MODEL + (SPLIT[1], REGISTERED_MODEL, PROMOTE_TRAIN),
    "evaluate": (MODEL_URI, DATA, REGISTERED_MODEL, PROMOTE_EVALUATE),
    "main": (SOURCE,) + SPLIT + MODEL + (REGISTERED_MODEL,),
}


def parse(entry_point: str, argv: list[str]) -> dict[str, object]:
    """`--name value` pairs → typed, checked values; defaults fill what is not given."""
    declared = {param.name: param for param in ENTRY_POINTS[entry_point]}
    given: dict[str, str] = {}
    pairs = list(argv)
    while pairs:
        flag = pairs.pop(0)
        name = flag.lstrip("-").replace("-", "_")
        if not flag.startswith("--") or name not in declared:
            raise ParameterError(
                f"unknown parameter {name!r} for entry point {entry_point!r}; "
                f"known: {', '.join(declared)}"
            )
        given[name] = pairs.pop(0) if pairs else ""
    values = {}
    for name, param in declared.items():
        text = given.get(name, str(param.default))
        try:
            values[name] = CONVERT[param.type](text.strip())
        except ValueError:
            raise ParameterError(f"parameter {name}: expected {param.rule}, got {text!r}") from None
        if not param.valid(values[name]):
            raise ParameterError(f"parameter {name}: expected {param.rule}, got {text!r}")
    return values


def model_params(values: dict[str, object]) -> ModelParams:
    """The `ModelParams` among parsed values (extra keys are ignored)."""
    return ModelParams(**{f.name: values[f.name] for f in fields(ModelParams) if f.name in values})
