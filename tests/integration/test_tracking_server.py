"""A team's set-up: a real `mlflow server` (SQLite backend, proxied artifacts) on loopback."""

from __future__ import annotations

import subprocess
import threading

import pytest
import requests

from diamonds_mlflow import registry
from tests.conftest import BIN_DIR, Store
from tests.integration.conftest import LOOPBACK, free_port, stop, wait_until

pytestmark = pytest.mark.slow

NAME = "diamonds"
ROWS = {"columns": ["carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z"],
        "data": [[0.3, "Ideal", "E", "SI1", 61.5, 55.0, 4.3, 4.31, 2.65],
                 [1.5, "Premium", "G", "VS2", 62.0, 58.0, 7.3, 7.25, 4.5]]}


def production(client) -> list[str]:
    return [str(v.version) for v in registry.production_versions(client, NAME)]


def champion(client) -> str | None:
    return registry.champion_version(client, NAME)


def new_versions(client, count: int) -> list[str]:
    """More versions holding Production's model: promotion is about the registry, not training."""
    source = client.get_model_version(NAME, production(client)[0])
    # The server insists on the logged model's id, which its own answer leaves out.
    model_id = source.model_id or source.source.removeprefix("models:/")
    return [str(client.create_model_version(NAME, source.source, run_id=source.run_id,
                                            model_id=model_id).version)
            for _ in range(count)]


def test_the_whole_workflow_logs_to_the_server_and_its_artifact_proxy(
        git_main_on_server, tracking_server):
    assert git_main_on_server.returncode == 0, git_main_on_server.output[-3000:]
    client = tracking_server.client()
    runs = client.search_runs(["0"])
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    assert all(r.info.artifact_uri.startswith("mlflow-artifacts:/") for r in runs)
    # The clients sent their files through the server, which keeps them where it was told.
    stored = {path.name for path in tracking_server.artifacts.rglob("*") if path.is_file()}
    assert {"train.parquet", "test.parquet", "MLmodel", "requirements.txt"} <= stored
    assert production(client) == [champion(client)]


def test_promotion_through_the_server_keeps_one_production_version_even_in_a_race(
        git_main_on_server, tracking_server):
    client = tracking_server.client()
    first, second, *racers = new_versions(client, 5)
    previous = production(client)[0]
    assert registry.promote(client, NAME, first) == first
    assert production(client) == [first] == [champion(client)]
    assert client.get_model_version(NAME, previous).current_stage == registry.ARCHIVED
    # A rollback to an older version is a plain promotion too.
    registry.promote(client, NAME, second)
    assert registry.promote(client, NAME, first) == first
    assert production(client) == [first] == [champion(client)]
    threads = [threading.Thread(target=registry.promote, args=(client, NAME, version))
               for version in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(production(client)) == 1
    assert production(client) == [champion(client)]
    assert production(client)[0] in racers


def test_serving_production_from_the_server(git_main_on_server, tracking_server, tmp_path):
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen(
        [str(BIN_DIR / "mlflow"), "models", "serve", "-m", f"models:/{NAME}/Production",
         "--env-manager", "local", "-h", LOOPBACK, "-p", str(port)],
        cwd=tmp_path, env=Store(tmp_path).env(MLFLOW_TRACKING_URI=tracking_server.url),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_until(lambda: requests.get(f"{url}/ping", timeout=2).ok, "mlflow models serve",
                   timeout=120, process=server)
        answer = requests.post(f"{url}/invocations", json={"dataframe_split": ROWS}, timeout=30)
    finally:
        stop(server, grace=3)  # nothing to keep: no need to wait for a graceful shutdown
        log.close()
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == 2
    for row in predictions:
        assert 0 < row["price_low"] <= row["price"] <= row["price_high"]
    assert predictions[1]["price"] > predictions[0]["price"]
