"""What every entry-point script does: parse parameters, run one step, report user errors."""

from __future__ import annotations

import sys
from typing import Callable

from diamonds_mlflow import params
from diamonds_mlflow.data import DataError
from diamonds_mlflow.schema import SchemaError


def main(entry_point: str, step: Callable[..., object], argv: list[str] | None = None) -> None:
    """Run `step` with the entry point's parameters; a user's mistake is one line and exit 2."""
    try:
        step(**params.parse(entry_point, sys.argv[1:] if argv is None else argv))
    except (params.ParameterError, DataError, SchemaError) as error:
        # Raised before training, or inside a run that MLflow then marks FAILED: either way
        # nothing is registered, and the user gets the reason without a traceback.
        print(f"mlflow run -e {entry_point}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
