"""`python -m diamonds_mlflow.preflight MODEL_URI`: can `mlflow models serve -m MODEL_URI` start?

Plain MLflow, asked to serve a registry URI that resolves to nothing, stops with a traceback
that names neither the store it looked in nor the way out. This check says both and exits 2,
so `python -m diamonds_mlflow.preflight URI && mlflow models serve -m URI …` fails clearly
while `mlflow models serve` itself stays exactly MLflow's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from diamonds_mlflow import registry

NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


def missing_store() -> str | None:
    """Why there is no store to look in, or None; checked first because opening a SQLite URI
    that names no file would create an empty store there, and a check should write nothing."""
    uri = mlflow.get_tracking_uri()
    sqlite_file = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
    if sqlite_file and not Path(sqlite_file).exists():
        return f"nothing has been stored yet (there is no file {sqlite_file})"
    return None


def problem(model_uri: str) -> str | None:
    """Why `model_uri` cannot be served from the current registry, or None when it can."""
    if not model_uri.startswith("models:/"):
        return None  # runs:/ and paths: MLflow's own messages name the missing file
    if reason := missing_store():
        return reason
    name, ref = registry.parse_model_uri(model_uri)
    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code == NOT_FOUND:
            return f"no model named {name!r} is registered"
        return f"the registry cannot be read ({error.message})"
    if registry.resolve(client, name, ref) is None:
        return f"{missing(name, ref)} ({present(client, name)})"
    return None


def missing(name: str, ref: str) -> str:
    if ref.startswith("@"):
        return f"alias {ref[1:]!r} of model {name!r} points at no version"
    if ref.isdigit() or ref.lower() == "latest":
        return f"model {name!r} has no version {ref}"
    return f"no version of model {name!r} is in stage {ref!r}"


def present(client: MlflowClient, name: str) -> str:
    found = registry.versions(client, name)
    listed = ", ".join(f"{v.version}: {v.current_stage}" for v in found[-5:])
    return f"its versions: {listed}" if found else "it has no versions"


def where() -> str:
    uri = mlflow.get_tracking_uri()
    if "MLFLOW_TRACKING_URI" in os.environ:
        return f"tracking URI {uri} (from MLFLOW_TRACKING_URI)"
    return (f"tracking URI {uri} (MLflow's default, as MLFLOW_TRACKING_URI is not set;"
            f" cwd {os.getcwd()})")


def message(model_uri: str, reason: str) -> str:
    return (
        f"cannot serve {model_uri}: {reason} in the registry at {where()}.\n"
        "To fix: point MLFLOW_TRACKING_URI at the store your team trains into, or fill this one:"
        " `mlflow run <project> --env-manager local` trains, evaluates and promotes a version"
        " to Production (a version that fails the gate stays out of Production; see its"
        " gate.reason tag)."
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m diamonds_mlflow.preflight MODEL_URI", file=sys.stderr)
        raise SystemExit(2)
    if not args[0].startswith("models:/"):
        # runs:/ URIs and paths are MLflow's to check; its messages name the missing file.
        print(f"not checked: {args[0]} is not a models:/ registry URI", file=sys.stderr)
        return
    reason = problem(args[0])
    if reason:
        print(message(args[0], reason), file=sys.stderr)
        raise SystemExit(2)
    print(f"ok: {args[0]} resolves in the registry at {where()}")


if __name__ == "__main__":
    main()
