"""The `prepare` step: load a raw table, clean it, split it, log the split and a first look."""

from __future__ import annotations

import mlflow

from diamonds_mlflow import data, plots, tracking

ARTIFACT_DIR = "data"


def run(source: str, test_size: float, seed: int) -> str:
    """Log train.parquet and test.parquet under the run's `data/`; return the run id."""
    raw = data.load_table(source)
    table, report = data.clean(raw)
    train, test = data.split(table, test_size, seed)
    with tracking.start_step() as active:
        tracking.log_new_params({"source": source, "test_size": test_size, "seed": seed})
        mlflow.set_tag(tracking.INPUT_DIGEST_TAG, data.source_digest(source))
        mlflow.log_metrics(report.as_metrics() | {"rows_train": len(train), "rows_test": len(test)})
        folder = tracking.scratch_dir() / ARTIFACT_DIR
        data.write_split(train, test, folder)
        mlflow.log_artifacts(str(folder), ARTIFACT_DIR)
        split_uri = f"runs:/{active.info.run_id}/{ARTIFACT_DIR}"
        for context, name in data.SPLIT_FILES.items():
            table_part = train if context == "training" else test
            tracking.log_table_input(table_part, name, context, f"{split_uri}/{name}")
        figures = plots.exploration(table)
        tracking.log_figures(figures, "plots")
        plots.close(figures)
        return active.info.run_id
