"""`mlflow run <git url>`: from an empty directory, at a commit or branch, with nested steps.

The git daemon serves what is committed; uncommitted work is not part of these runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from mlflow.utils.mlflow_tags import (
    MLFLOW_GIT_BRANCH,
    MLFLOW_GIT_COMMIT,
    MLFLOW_GIT_REPO_URL,
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_PROJECT_ENTRY_POINT,
    MLFLOW_PROJECT_ENV,
    MLFLOW_SOURCE_NAME,
)

from diamonds_mlflow import data, tracking
from tests.conftest import Store
from tests.integration.conftest import git, quick_small_training, run_mlflow

pytestmark = pytest.mark.slow


def project_runs(client, entry_point: str | None = None):
    found = client.search_runs(["0"], max_results=100)
    project = [r for r in found if MLFLOW_PROJECT_ENTRY_POINT in r.data.tags]
    if entry_point is None:
        return project
    return [r for r in project if r.data.tags[MLFLOW_PROJECT_ENTRY_POINT] == entry_point]


def code_version_at(url: str, commit: str, folder) -> str:
    """What `tracking.code_version()` says in a checkout of `commit`."""
    git("clone", "-q", url, str(folder))
    git("checkout", "-q", commit, cwd=folder)
    # `python -c` puts the checkout first on sys.path, so its package is the one imported.
    done = subprocess.run([sys.executable, "-c", "from diamonds_mlflow import tracking as t;"
                           "print(t.code_version())"], cwd=folder, capture_output=True,
                          text=True, check=True, env=Store(folder).env())
    return done.stdout.strip()


def train_runs(store: Store) -> dict:
    return {r.data.tags[MLFLOW_GIT_COMMIT]: r for r in project_runs(store.client(), "train")}


def assert_ran_the_code_of(run, url: str, commit: str, scratch) -> None:
    assert run.info.status == "FINISHED"
    assert run.data.tags[MLFLOW_GIT_COMMIT] == commit
    assert run.data.tags[tracking.CODE_VERSION_TAG] == code_version_at(url, commit, scratch)


def test_train_runs_from_the_git_url_at_a_branch_in_an_empty_directory(git_server, small_data,
                                                                       tmp_path):
    # The default branch runs from the URL in the `main` test; here a branch is asked for.
    empty, store = tmp_path / "empty", Store(tmp_path / "store")
    empty.mkdir(), store.folder.mkdir()
    finished = run_mlflow(empty, "run", git_server.url, "-e", "train", "--version",
                          git_server.branch, *quick_small_training(small_data, max_depth="3"),
                          "--env-manager", "local", MLFLOW_TRACKING_URI=store.uri)
    assert finished.returncode == 0, finished.output[-3000:]
    # A local store keeps artifacts in the caller's ./mlruns; nothing else lands there.
    assert set(os.listdir(empty)) <= {"mlruns"}
    (run,) = train_runs(store).values()
    assert_ran_the_code_of(run, git_server.url, git_server.branch_tip, tmp_path / "checkout")
    assert run.data.tags[MLFLOW_GIT_BRANCH] == git_server.branch
    assert run.data.tags[MLFLOW_SOURCE_NAME] == git_server.url
    assert run.data.params["max_depth"] == "3"
    (version,) = store.client().search_model_versions("name = 'diamonds'")
    assert (version.run_id, version.current_stage) == (run.info.run_id, "Production")


def test_train_runs_from_the_git_url_at_a_commit_no_branch_points_at(git_server, small_data,
                                                                      tmp_path):
    store = Store(tmp_path)
    finished = run_mlflow(tmp_path, "run", git_server.url, "-e", "train", "--version",
                          git_server.branch_middle,
                          *quick_small_training(small_data, max_iter="5",
                                                  registered_model=""),
                          "--env-manager", "local", MLFLOW_TRACKING_URI=store.uri)
    assert finished.returncode == 0, finished.output[-3000:]
    (run,) = train_runs(store).values()
    assert_ran_the_code_of(run, git_server.url, git_server.branch_middle, tmp_path / "checkout")
    assert MLFLOW_GIT_BRANCH not in run.data.tags


def test_an_unknown_version_fails_within_seconds_naming_it(git_server, tmp_path):
    finished = run_mlflow(tmp_path, "run", git_server.url, "-e", "train", "--version",
                          "no-such-branch", "--env-manager", "local", timeout=60,
                          MLFLOW_TRACKING_URI=Store(tmp_path).uri)
    assert finished.returncode != 0
    assert finished.seconds < 30
    assert "Unable to checkout version 'no-such-branch'" in finished.output
    assert "Traceback" not in finished.output


def test_main_from_the_git_url_runs_its_nested_steps_from_the_same_checkout_and_env(
        git_main_on_server, git_server, tracking_server, tmp_path):
    assert git_main_on_server.returncode == 0, git_main_on_server.output[-3000:]
    client = tracking_server.client()
    (parent,) = project_runs(client, "main")
    children = [r for r in project_runs(client)
                if r.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id]
    assert sorted(r.data.tags[MLFLOW_PROJECT_ENTRY_POINT] for r in children) == [
        "evaluate", "prepare", "train"]
    assert parent.data.tags[MLFLOW_SOURCE_NAME] == git_server.url
    checkout = re.search(rf"Fetching project from {git_server.url} into (\S+) ===",
                         git_main_on_server.output).group(1)
    for run in [parent, *children]:
        tags = run.data.tags
        assert run.info.status == "FINISHED"
        assert tags[MLFLOW_GIT_COMMIT] == git_server.head
        assert tags[MLFLOW_GIT_REPO_URL] == git_server.url
        assert tags[MLFLOW_PROJECT_ENV] == "uv"
    expected = code_version_at(git_server.url, git_server.head, tmp_path / "checkout")
    for child in children:
        # The steps ran from the parent's fetched checkout, not from this working tree.
        assert child.data.tags[MLFLOW_SOURCE_NAME] == f"file://{checkout}"
        assert child.data.tags[tracking.CODE_VERSION_TAG] == expected


def test_a_relative_source_is_refused_even_where_it_exists(tmp_path, monkeypatch):
    # In a step, the working directory is the checkout, not the caller's folder.
    (tmp_path / "prices.csv").write_text("carat,price\n")
    monkeypatch.chdir(tmp_path)
    assert not data.source_exists("prices.csv")
    assert data.source_exists(str(tmp_path / "prices.csv"))
    with pytest.raises(data.DataError, match="'prices.csv' is a relative path"):
        data.fetch("prices.csv")
