"""Several people at once: four `train` runs started together against one SQLite store."""

from __future__ import annotations

import subprocess

import pytest

from diamonds_mlflow import registry
from tests.conftest import BIN_DIR, PROJECT_DIR, Store
from tests.integration.conftest import quick_small_training

pytestmark = pytest.mark.slow

RUNS = 4


def start_train(store: Store, index: int, small_data) -> subprocess.Popen:
    log = open(store.folder / f"train-{index}.log", "w")
    return subprocess.Popen(
        [str(BIN_DIR / "mlflow"), "run", str(PROJECT_DIR), "-e", "train",
         *quick_small_training(small_data),
         "--env-manager", "local"],
        cwd=store.folder, env=store.env(), stdout=log, stderr=subprocess.STDOUT,
    )


def test_four_trains_at_once_all_succeed_and_leave_one_production_version(store, small_data):
    # A team's store exists before its members run against it; making it is not the race.
    store.client().search_experiments()
    processes = [start_train(store, index, small_data) for index in range(RUNS)]
    codes = [process.wait(timeout=600) for process in processes]
    outputs = [(store.folder / f"train-{i}.log").read_text() for i in range(RUNS)]
    for code, output in zip(codes, outputs):
        assert code == 0, output[-3000:]
        assert "database is locked" not in output
    client = store.client()
    versions = registry.versions(client, "diamonds")
    assert [str(v.version) for v in versions] == [str(n) for n in range(1, RUNS + 1)]
    assert len({v.run_id for v in versions}) == RUNS
    in_production = [str(v.version) for v in versions if v.current_stage == registry.PRODUCTION]
    assert len(in_production) == 1
    assert registry.champion_version(client, "diamonds") == in_production[0]
    # The gate decided on each version; whichever won, none is left half-promoted.
    for version in versions:
        assert version.tags["gate.decision"] in ("promoted", "rejected")
        assert version.current_stage in (registry.PRODUCTION, registry.ARCHIVED, "None")
        # A version that lost a promotion race names the newer one that won it.
        if "gate.superseded_by" in version.tags:
            assert version.tags["gate.decision"] == "promoted"
            assert int(version.tags["gate.superseded_by"]) > int(version.version)
            assert version.current_stage == registry.ARCHIVED
