"""Promotion against a real SQLite registry: busy retries, and races settled one way."""

from __future__ import annotations

import threading

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from diamonds_mlflow import registry


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory) -> str:
    """One SQLite store for the module (making its tables is the slow part); a model per test."""
    return f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"


@pytest.fixture
def client(store_uri, request) -> MlflowClient:
    return MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)


@pytest.fixture
def name(client, request) -> str:
    model = request.node.name
    client.create_registered_model(model)
    return model


def add_versions(client: MlflowClient, name: str, folder, count: int) -> list[str]:
    (folder / "model").mkdir(exist_ok=True)
    return [str(client.create_model_version(name, str(folder / "model")).version)
            for _ in range(count)]


def production(client: MlflowClient, name: str) -> list[str]:
    return [str(v.version) for v in registry.production_versions(client, name)]


def test_simultaneous_promotions_leave_one_production_version_and_alias(client, name, tmp_path):
    racers = add_versions(client, name, tmp_path, 6)
    barrier = threading.Barrier(len(racers))
    winners, errors = [], []

    def promote(version: str) -> None:
        barrier.wait()
        try:
            winners.append(registry.promote(client, name, version))
        except Exception as error:  # collected: a thread's exception would be lost
            errors.append(error)

    threads = [threading.Thread(target=promote, args=(v,)) for v in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(production(client, name)) == 1
    assert registry.champion_version(client, name) == production(client, name)[0]
    # The promotion that settled last saw the final state, and said so.
    assert production(client, name)[0] in winners


def test_reconciling_keeps_the_newest_of_several_production_versions(client, name, tmp_path):
    old, new = add_versions(client, name, tmp_path, 2)
    # What two promotions that overlap can leave behind on a store without serialised writes.
    registry.move_stage(client, name, old, registry.PRODUCTION)
    registry.move_stage(client, name, new, registry.PRODUCTION)
    client.set_registered_model_alias(name, registry.CHAMPION, old)
    assert registry.reconcile(client, name) == new
    assert production(client, name) == [new] == [registry.champion_version(client, name)]
    assert client.get_model_version(name, old).current_stage == registry.ARCHIVED


def test_a_rollback_to_an_older_version_is_kept(client, name, tmp_path):
    old, new = add_versions(client, name, tmp_path, 2)
    registry.promote(client, name, new)
    assert registry.promote(client, name, old) == old
    assert production(client, name) == [old] == [registry.champion_version(client, name)]


def test_busy_errors_are_retried_and_a_write_that_landed_is_not_repeated():
    calls = []

    def locked_then_fine():
        calls.append(1)
        if len(calls) < 3:
            raise MlflowException("(sqlite3.OperationalError) database is locked",
                                  error_code="TEMPORARILY_UNAVAILABLE")
        return "done"

    assert registry.retry_busy(locked_then_fine) == "done" and len(calls) == 3
    calls.clear()
    assert registry.retry_busy(locked_then_fine, landed=lambda: "landed") == "landed"
    assert len(calls) == 1
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|not found"):
        registry.retry_busy(lambda: (_ for _ in ()).throw(
            MlflowException("not found", error_code="RESOURCE_DOES_NOT_EXIST")))
