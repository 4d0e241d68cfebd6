"""The promotion gate end to end: real `mlflow run` steps against a real SQLite registry.

A first small model becomes Production; a clearly worse candidate is then refused by
`evaluate -P promote=true`, and a better one promoted by `train`, which calls the same gate.
Each decision is recorded with its numbers.
"""

from __future__ import annotations

import pytest

from tests.conftest import Store, quick_training

pytestmark = pytest.mark.slow

NAME = "diamonds"


def train(store: Store, *flags: str, promote: str) -> str:
    """Train and register a version; return its number."""
    result = store.run_project("-e", "train", *flags, "-P", f"promote={promote}")
    assert result.returncode == 0, result.stderr[-3000:]
    # Versions as text: a SQL store says int, a server says str.
    return str(max(store.client().search_model_versions(f"name = '{NAME}'"),
                   key=lambda v: int(v.version)).version)


def evaluate_and_promote(store: Store, version: str):
    result = store.run_project("-e", "evaluate", "-P", f"model_uri=models:/{NAME}/{version}",
                               "-P", "promote=true")
    assert result.returncode == 0, result.stderr[-3000:]
    return store.client().get_model_version(NAME, version)


def production(store: Store) -> list[str]:
    return [str(v.version) for v in store.client().search_model_versions(f"name = '{NAME}'")
            if v.current_stage == "Production"]


def champion(store: Store) -> str:
    return str(store.client().get_model_version_by_alias(NAME, "champion").version)


def test_gate_refuses_a_worse_candidate_and_promotes_a_better_one(store):
    first = train(store, *quick_training(), promote="true")
    assert production(store) == [first] and champion(store) == first

    worse = train(store, *quick_training(max_depth="2", max_iter="20"), promote="false")
    refused = evaluate_and_promote(store, worse)
    assert refused.tags["gate.decision"] == "rejected"
    assert refused.tags["gate.champion_version"] == first
    assert refused.description.startswith(f"Version {worse}: not promoted")
    assert production(store) == [first] and champion(store) == first

    better = train(store, *quick_training(max_iter="100"), promote="true")
    promoted = store.client().get_model_version(NAME, better)
    assert promoted.tags["gate.decision"] == "promoted", promoted.tags["gate.reason"]
    assert float(promoted.tags["gate.candidate_rmse"]) <= float(promoted.tags["gate.champion_rmse"])
    assert production(store) == [better] and champion(store) == better

    # The model card carries the data digest, parameters, metrics and interval coverage.
    card = promoted.description
    for words in ("promoted", "Test data digest", "max_iter=100", "rmse=", "coverage",
                  f"Production version {first}"):
        assert words in card, card

    # The deciding run logs the comparison beside the candidate's own metrics.
    logged = store.client().get_run(promoted.run_id).data.metrics
    assert logged["rmse_change_vs_champion"] <= 0
    assert logged["champion_rmse"] == pytest.approx(float(promoted.tags["gate.champion_rmse"]),
                                                    abs=1e-3)
