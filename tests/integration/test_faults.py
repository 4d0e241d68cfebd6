"""Faults: a run killed mid-training, and serving a model the registry does not have."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from diamonds_mlflow import registry, tracking
from tests.conftest import BIN_DIR, PROJECT_DIR, Store
from tests.integration.conftest import (LOOPBACK, free_port, port_is_free,
                                       quick_small_training)

pytestmark = pytest.mark.slow

NAME = "diamonds"
PRODUCTION_URI = f"models:/{NAME}/Production"


def registry_state(store: Store) -> tuple:
    client = store.client()
    versions = [(str(v.version), v.current_stage) for v in registry.versions(client, NAME)]
    return versions, client.get_registered_model(NAME).aliases


def wait_for_training(store: Store, process: subprocess.Popen, timeout: float = 300) -> None:
    """Until the train step's own code has started its run (it tags the code version first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        running = store.client().search_runs(
            ["0"], filter_string=f"attributes.status = 'RUNNING' and "
                                 f"tags.{tracking.CODE_VERSION_TAG} != ''")
        if running:
            return
        time.sleep(0.1)
    raise AssertionError("the train step never started")


def test_a_run_killed_mid_training_leaves_the_registry_as_it_was(trained_copy, small_data):
    before = registry_state(trained_copy)
    process = subprocess.Popen(
        [str(BIN_DIR / "mlflow"), "run", str(PROJECT_DIR), "-e", "train",
         *quick_small_training(small_data), "--env-manager", "local"],
        cwd=trained_copy.folder, env=trained_copy.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    wait_for_training(trained_copy, process)
    os.killpg(process.pid, signal.SIGKILL)  # the whole run: `mlflow run` and its step
    process.wait()
    assert registry_state(trained_copy) == before
    again = trained_copy.run_project("-e", "train", *quick_small_training(small_data))
    assert again.returncode == 0, again.stderr[-3000:]
    versions, _ = registry_state(trained_copy)
    assert [v for v, _ in versions] == [v for v, _ in before[0]] + [str(len(before[0]) + 1)]
    in_production = [v for v, stage in versions if stage == registry.PRODUCTION]
    assert len(in_production) == 1
    assert registry.champion_version(trained_copy.client(), NAME) == in_production[0]


def serve_never_binds(store: Store, port: int, timeout: float = 120) -> tuple[int, str]:
    """Plain `mlflow models serve`; asserts the port stays free for as long as it runs."""
    process = subprocess.Popen(
        [str(BIN_DIR / "mlflow"), "models", "serve", "-m", PRODUCTION_URI, "--env-manager",
         "local", "-h", LOOPBACK, "-p", str(port)], cwd=store.folder, env=store.env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        assert port_is_free(port), "mlflow models serve bound the port"
        time.sleep(0.1)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"mlflow models serve still running after {timeout}s")
    return process.returncode, process.stdout.read()


def preflight(store: Store) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diamonds_mlflow.preflight", PRODUCTION_URI],
                          cwd=store.folder, env=store.env(), capture_output=True, text=True,
                          timeout=120)


def without_production(store: Store) -> Store:
    client = store.client()
    for version in registry.production_versions(client, NAME):
        registry.move_stage(client, NAME, version.version, registry.ARCHIVED)
    return store


@pytest.mark.parametrize("fixture, expected", [
    ("store", "no model named 'diamonds' is registered"),
    ("trained_copy", "no version of model 'diamonds' is in stage 'Production' (its versions: 1: "),
], ids=["empty store", "no Production version"])
def test_serving_a_missing_production_model_fails_before_binding_saying_where_and_what_to_do(
        fixture, expected, request):
    target = without_production(request.getfixturevalue(fixture))
    port = free_port()
    code, output = serve_never_binds(target, port)
    assert code != 0 and port_is_free(port)
    assert "Production" in output or "diamonds" in output  # MLflow's own reason, terse
    checked = preflight(target)
    assert checked.returncode == 2
    assert expected in checked.stderr
    assert f"tracking URI {target.uri}" in checked.stderr
    assert "To fix:" in checked.stderr and "MLFLOW_TRACKING_URI" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_preflight_in_a_folder_without_a_store_says_so_and_creates_none(tmp_path):
    empty = Store(tmp_path)
    checked = preflight(empty)
    assert checked.returncode == 2
    assert f"nothing has been stored yet (there is no file {tmp_path / 'mlflow.db'})" in checked.stderr
    assert "To fix:" in checked.stderr and "Traceback" not in checked.stderr
    assert list(tmp_path.iterdir()) == []


def test_preflight_passes_when_production_exists(trained_store):
    checked = preflight(trained_store)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"ok: {PRODUCTION_URI}")
