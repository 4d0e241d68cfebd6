"""The core workflow through the real `mlflow run` CLI, each in a folder with its own store."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_PROJECT_ENTRY_POINT

from diamonds_mlflow import data, schema
from tests.conftest import quick_training

pytestmark = pytest.mark.slow


def versions(store):
    client = store.client()
    return sorted(
        (client.get_model_version("diamonds", v.version)
         for v in client.search_model_versions("name = 'diamonds'")),
        key=lambda v: int(v.version),
    )


def in_production(store):
    return [v for v in versions(store) if v.current_stage == "Production"]


def runs(store, entry_point):
    return store.client().search_runs(
        ["0"], filter_string=f"tags.`{MLFLOW_PROJECT_ENTRY_POINT}` = '{entry_point}'"
    )


def test_main_leaves_one_accurate_production_version_that_is_the_champion(trained_store):
    production = in_production(trained_store)
    assert len(production) == 1
    champion = trained_store.client().get_model_version_by_alias("diamonds", "champion")
    assert champion.version == production[0].version
    metrics = trained_store.client().get_run(champion.run_id).data.metrics
    assert metrics["r2"] >= 0.97
    assert {"rmse", "mae", "mape", "interval_coverage"} <= set(metrics)
    assert champion.tags["gate.decision"] == "promoted"
    assert "Holdout" in champion.description


def test_main_runs_each_step_as_a_nested_run_passing_artifact_uris(trained_store):
    (parent,) = runs(trained_store, "main")
    client = trained_store.client()
    for step in ("prepare", "train", "evaluate"):
        (child,) = runs(trained_store, step)
        assert child.data.tags[MLFLOW_PARENT_RUN_ID] == parent.info.run_id
        assert child.info.status == "FINISHED"
    prepare_id = parent.data.tags["prepare_run"]
    split_uri = f"runs:/{prepare_id}/data"
    assert client.get_run(parent.data.tags["train_run"]).data.params["data"] == split_uri
    assert client.get_run(parent.data.tags["evaluate_run"]).data.params["data"] == split_uri


def test_prepare_logs_the_split_its_inputs_the_dropped_rows_and_plots(trained_store):
    (prepare,) = runs(trained_store, "prepare")
    client = trained_store.client()
    files = {f.path for f in client.list_artifacts(prepare.info.run_id, "data")}
    assert files == {"data/train.parquet", "data/test.parquet"}
    plots = client.list_artifacts(prepare.info.run_id, "plots")
    assert len(plots) >= 3
    contexts = {i.tags[0].value for i in prepare.inputs.dataset_inputs}
    assert contexts == {"training", "testing"}
    assert all(i.dataset.digest for i in prepare.inputs.dataset_inputs)
    metrics = prepare.data.metrics
    assert metrics["dropped_duplicates"] > 0
    assert metrics["rows_out"] == metrics["rows_train"] + metrics["rows_test"]
    assert metrics["dropped_duplicates"] + metrics["dropped_invalid"] == (
        metrics["rows_in"] - metrics["rows_out"]
    )
    assert metrics["invalid_x_out_of_range"] >= 1 and metrics["invalid_z_out_of_range"] >= 1


def test_rerunning_main_reuses_every_finished_step(trained_copy):
    before = len(versions(trained_copy))
    result = trained_copy.run_project()
    assert result.returncode == 0, result.stderr[-2000:]
    for step in ("prepare", "train", "evaluate"):
        assert f"reusing {step} run" in result.stdout + result.stderr
        assert len(runs(trained_copy, step)) == 1
    assert len(versions(trained_copy)) == before


def test_changing_a_training_parameter_reruns_train_and_evaluate_only(trained_copy):
    result = trained_copy.run_project(*quick_training())
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "reusing prepare run" in output
    assert "reusing train run" not in output and "reusing evaluate run" not in output
    assert len(runs(trained_copy, "train")) == 2
    assert len(in_production(trained_copy)) == 1


def test_train_registers_a_new_version_and_promotes_it_only_if_no_worse(trained_copy):
    champion_before = in_production(trained_copy)[0]
    result = trained_copy.run_project("-e", "train", "-P", "max_depth=3")
    assert result.returncode == 0, result.stderr[-2000:]
    new = versions(trained_copy)[-1]
    assert int(new.version) == int(champion_before.version) + 1
    candidate_rmse = float(new.tags["gate.candidate_rmse"])
    champion_rmse = float(new.tags["gate.champion_rmse"])
    production = in_production(trained_copy)
    assert len(production) == 1
    champion = trained_copy.client().get_model_version_by_alias("diamonds", "champion")
    assert champion.version == production[0].version
    if candidate_rmse <= champion_rmse:
        assert new.tags["gate.decision"] == "promoted" and production[0].version == new.version
    else:
        assert new.tags["gate.decision"] == "rejected"
        assert production[0].version == champion_before.version
    run = trained_copy.client().get_run(new.run_id)
    assert run.data.tags["gate.decision"] == new.tags["gate.decision"]


@pytest.mark.parametrize(
    "args, named",
    [
        (["-e", "train", "-P", "max_depth=abc"], "max_depth"),
        (["-e", "train", "-P", "max_depth=0"], "max_depth"),
        (["-e", "prepare", "-P", "test_size=1.5"], "test_size"),
        (["-e", "train", "-P", "max_dept=3"], "max_dept"),
        (["-e", "prepare", "-P", "source=/nowhere/prices.csv"], "source"),
        (["-P", "max_depth=-2"], "max_depth"),
    ],
)
def test_bad_parameters_fail_at_once_naming_the_parameter(trained_copy, args, named):
    before = len(versions(trained_copy))
    result = trained_copy.run_project(*args)
    assert result.returncode != 0
    message = [line for line in result.stderr.splitlines() if line.startswith("mlflow run -e")]
    assert len(message) == 1 and named in message[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(versions(trained_copy)) == before
    failed = trained_copy.client().search_runs(["0"], order_by=["attributes.start_time DESC"])[0]
    assert failed.info.status == "FAILED"


def test_prepare_accepts_a_new_price_list_as_csv(store, tmp_path):
    table = data.load_bundled().sample(3000, random_state=1)
    source = tmp_path / "new_prices.csv"
    table.to_csv(source, index=False)
    result = store.run_project("-e", "prepare", "-P", f"source={source}", "-P", "test_size=0.3")
    assert result.returncode == 0, result.stderr[-2000:]
    (prepare,) = runs(store, "prepare")
    folder = store.client().download_artifacts(prepare.info.run_id, "data", str(tmp_path))
    test = pd.read_parquet(f"{folder}/test.parquet")
    assert list(test.columns) == list(schema.COLUMNS)
    assert prepare.data.metrics["rows_in"] == 3000
    assert prepare.data.tags["input_digest"] == data.sha256_of(source)
