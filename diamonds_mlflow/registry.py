"""The model registry: register versions, find Production, move stage and alias together.

Several runs may register and promote at once (a team on one store, or a few `mlflow run`
processes side by side). Every write here therefore retries a store that is busy, and every
promotion ends by reconciling the registry to one rule that all processes agree on.
"""

from __future__ import annotations

import random
import time
import warnings
from typing import Callable, TypeVar

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

PRODUCTION = "Production"
ARCHIVED = "Archived"
CHAMPION = "champion"
BUSY_ATTEMPTS = 12
RECONCILE_ATTEMPTS = 10

T = TypeVar("T")


class RegistryConflict(RuntimeError):
    """The registry kept changing under a promotion for longer than reconciling allows."""


def is_busy(error: Exception) -> bool:
    """A write that may succeed if tried again, as opposed to a real refusal.

    Either the store is momentarily locked, or two processes raced to create the same alias
    (MLflow's SQL store looks for it, then inserts it), and the loser will find it next time.
    """
    code = getattr(error, "error_code", "")
    text = str(error).lower()
    locked = "database is locked" in text or "database table is locked" in text
    alias_race = "registered_model_alias" in text and ("unique" in text or "duplicate" in text)
    return code == "TEMPORARILY_UNAVAILABLE" or locked or alias_race


def retry_busy(call: Callable[[], T], attempts: int = BUSY_ATTEMPTS,
               landed: Callable[[], T | None] = lambda: None) -> T:
    """`call()`, again after a short random pause while SQLite says it is locked.

    SQLite refuses a write at once (whatever its busy timeout) when two transactions both try
    to turn a read into a write; one simply has to try again. A call made of several writes may
    have done its part before failing: `landed()` returns that result, so it is not repeated.
    """
    for attempt in range(attempts):
        try:
            return call()
        except Exception as error:  # MLflow and SQLAlchemy both report a locked database
            if not is_busy(error) or attempt == attempts - 1:
                raise
        time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
        done = landed()
        if done is not None:
            return done
    raise AssertionError("unreachable")


def register(model_uri: str, name: str) -> ModelVersion:
    """A new version of `name` holding `model_uri` (the registered model is made if need be)."""
    client = MlflowClient()

    def registered() -> ModelVersion | None:
        # Registering twice would leave a duplicate version, a gap in what users expect.
        return next((v for v in versions(client, name) if v.source == model_uri), None)

    return retry_busy(lambda: mlflow.register_model(model_uri, name), landed=registered)


def versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every version of `name`, oldest first (none when the model is not registered)."""
    found = retry_busy(lambda: client.search_model_versions(f"name = '{name}'"))
    return sorted(found, key=lambda v: int(v.version))


def production_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    return [v for v in versions(client, name) if v.current_stage == PRODUCTION]


def production_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version in stage Production, or None (also when the model is not registered)."""
    return max(production_versions(client, name), key=lambda v: int(v.version), default=None)


def latest_version(client: MlflowClient, name: str) -> ModelVersion | None:
    return max(versions(client, name), key=lambda v: int(v.version), default=None)


def champion_version(client: MlflowClient, name: str) -> str | None:
    """The version alias `champion` points at, or None."""
    version = retry_busy(lambda: client.get_registered_model(name)).aliases.get(CHAMPION)
    return None if version is None else str(version)


def move_stage(client: MlflowClient, name: str, version: str, stage: str,
               archive_others: bool = False) -> None:
    with warnings.catch_warnings():
        # Stages are deprecated in favour of aliases, but `models:/diamonds/Production` is
        # the URI our users serve, so both are kept in step.
        warnings.simplefilter("ignore", FutureWarning)
        retry_busy(lambda: client.transition_model_version_stage(
            name, version, stage, archive_existing_versions=archive_others))


def promote(client: MlflowClient, name: str, version: str) -> str:
    """Make `version` the one Production version, with alias `champion`; return the winner.

    Promotions that overlap may leave several versions in Production (each archived what it
    saw) and the alias pointing at a loser. Reconciling settles every such race the same way,
    whichever process does it: the newest version in Production wins, as it would have had the
    promotions run one after the other.
    """
    move_stage(client, name, version, PRODUCTION, archive_others=True)
    return reconcile(client, name)


def reconcile(client: MlflowClient, name: str) -> str:
    """Archive all but the newest Production version and point `champion` at it, until stable."""
    for _ in range(RECONCILE_ATTEMPTS):
        in_production = production_versions(client, name)
        if not in_production:
            raise RegistryConflict(f"no version of {name!r} is left in {PRODUCTION}")
        winner = str(in_production[-1].version)  # a SQL store says int, a server says str
        for loser in in_production[:-1]:
            move_stage(client, name, loser.version, ARCHIVED)
        if champion_version(client, name) != winner:
            retry_busy(lambda: client.set_registered_model_alias(name, CHAMPION, winner))
        if is_settled(client, name, winner):
            return winner
        time.sleep(random.uniform(0.05, 0.3))
    raise RegistryConflict(
        f"{name!r} kept changing while promoting; run the promotion again to settle it"
    )


def is_settled(client: MlflowClient, name: str, winner: str) -> bool:
    in_production = [str(v.version) for v in production_versions(client, name)]
    return in_production == [winner] and champion_version(client, name) == winner


def tag(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        retry_busy(lambda: client.set_model_version_tag(name, version, key, str(value)))


def parse_model_uri(model_uri: str) -> tuple[str, str]:
    """(name, reference) of `models:/name/ref` or `models:/name@alias` (reference '@alias')."""
    path = model_uri[len("models:/"):].strip("/")
    if "@" in path:
        name, alias = path.split("@", 1)
        return name, "@" + alias
    name, _, ref = path.partition("/")
    return name, ref or "latest"


def resolve(client: MlflowClient, name: str, ref: str) -> str | None:
    """The version number a reference (number, stage, 'latest' or '@alias') names, or None."""
    if ref.startswith("@"):
        version = retry_busy(lambda: client.get_registered_model(name)).aliases.get(ref[1:])
        return None if version is None else str(version)
    found = versions(client, name)
    if ref.isdigit():
        return ref if any(str(v.version) == ref for v in found) else None
    if ref.lower() == "latest":
        return str(found[-1].version) if found else None
    in_stage = [v for v in found if v.current_stage.lower() == ref.lower()]
    return str(in_stage[-1].version) if in_stage else None


def version_of(client: MlflowClient, model_uri: str) -> tuple[str, str] | None:
    """(name, version) behind a `models:/…` URI, or None (not a registry URI, or resolves to none)."""
    if not model_uri.startswith("models:/"):
        return None
    name, ref = parse_model_uri(model_uri)
    version = resolve(client, name, ref)
    return None if version is None else (name, version)
