"""The model registry: register versions, find Production, move stage and alias together."""

from __future__ import annotations

import warnings

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

PRODUCTION = "Production"
CHAMPION = "champion"


def register(model_uri: str, name: str) -> ModelVersion:
    """A new version of `name` holding `model_uri` (the registered model is made if need be)."""
    return mlflow.register_model(model_uri, name)


def production_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version in stage Production, or None (also when the model is not registered)."""
    versions = [
        v
        for v in client.search_model_versions(f"name = '{name}'")
        if v.current_stage == PRODUCTION
    ]
    return max(versions, key=lambda v: int(v.version), default=None)


def latest_version(client: MlflowClient, name: str) -> ModelVersion | None:
    versions = client.search_model_versions(f"name = '{name}'")
    return max(versions, key=lambda v: int(v.version), default=None)


def promote(client: MlflowClient, name: str, version: str) -> None:
    """Make `version` the one Production version and point alias `champion` at it."""
    with warnings.catch_warnings():
        # Stages are deprecated in favour of aliases, but `models:/diamonds/Production` is
        # the URI our users serve, so both are kept in step.
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage(
            name, version, PRODUCTION, archive_existing_versions=True
        )
    client.set_registered_model_alias(name, CHAMPION, version)


def tag(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value))


def version_of(client: MlflowClient, model_uri: str) -> tuple[str, str] | None:
    """(name, version) behind a `models:/name/…` or `models:/name@alias` URI, else None."""
    if not model_uri.startswith("models:/"):
        return None
    path = model_uri[len("models:/"):].rstrip("/")
    if "@" in path:
        name, alias = path.split("@", 1)
        return name, client.get_model_version_by_alias(name, alias).version
    name, _, ref = path.partition("/")
    if ref.isdigit():
        return name, ref
    found = production_version(client, name) if ref == PRODUCTION else latest_version(client, name)
    return (name, found.version) if found else None
