"""`mlflow run <git url>`: from an empty directory, at a commit or branch, with nested steps.

The git daemon serves what is committed; uncommitted work is not part of these runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from mlflow.utils.mlflow_tags import (
    MLFLOW_GIT_BRANCH,
    MLFLOW_GIT_COMMIT,
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_PROJECT_ENTRY_POINT,
    MLFLOW_PROJECT_ENV,
    MLFLOW_SOURCE_NAME,
)

from diamonds_mlflow import tracking
from tests.conftest import PROJECT_DIR, Store, quick_training
from tests.integration.conftest import git, run_mlflow

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


def test_train_runs_from_the_git_url_in_an_empty_directory(git_server, tmp_path):
    empty, store = tmp_path / "empty", Store(tmp_path / "store")
    empty.mkdir(), store.folder.mkdir()
    finished = run_mlflow(empty, "run", git_server.url, "-e", "train",
                          *quick_training(max_depth="3"), "--env-manager", "local",
                          MLFLOW_TRACKING_URI=store.uri)
    assert finished.returncode == 0, finished.output[-3000:]
    # A local store keeps artifacts in the caller's ./mlruns; nothing else lands there.
    assert set(os.listdir(empty)) <= {"mlruns"}
    (run,) = project_runs(store.client(), "train")
    assert run.info.status == "FINISHED"
    assert run.data.tags[MLFLOW_GIT_COMMIT] == git_server.head
    assert run.data.tags[MLFLOW_SOURCE_NAME] == git_server.url
    assert run.data.params["max_depth"] == "3"
    (version,) = store.client().search_model_versions("name = 'diamonds'")
    assert (version.run_id, version.current_stage) == (run.info.run_id, "Production")


def test_version_runs_exactly_that_commit_or_branch(git_server, tmp_path):
    store = Store(tmp_path)
    wanted = {git_server.branch: git_server.branch_tip,
              git_server.branch_middle: git_server.branch_middle}
    for version in wanted:
        finished = run_mlflow(tmp_path, "run", git_server.url, "-e", "train", "--version",
                              version, *quick_training(max_iter="5", registered_model=""),
                              "--env-manager", "local", MLFLOW_TRACKING_URI=store.uri)
        assert finished.returncode == 0, finished.output[-3000:]
    runs = {r.data.tags[MLFLOW_GIT_COMMIT]: r for r in project_runs(store.client(), "train")}
    assert set(runs) == set(wanted.values())
    assert runs[git_server.branch_tip].data.tags[MLFLOW_GIT_BRANCH] == git_server.branch
    for commit, run in runs.items():
        expected = code_version_at(git_server.url, commit, tmp_path / commit)
        assert run.data.tags[tracking.CODE_VERSION_TAG] == expected, commit
    assert len({r.data.tags[tracking.CODE_VERSION_TAG] for r in runs.values()}) == 2


def test_an_unknown_version_fails_within_seconds_naming_it(git_server, tmp_path):
    finished = run_mlflow(tmp_path, "run", git_server.url, "-e", "train", "--version",
                          "no-such-branch", "--env-manager", "local", timeout=60,
                          MLFLOW_TRACKING_URI=Store(tmp_path).uri)
    assert finished.returncode != 0
    assert finished.seconds < 30
    assert "Unable to checkout version 'no-such-branch'" in finished.output
    assert "Traceback" not in finished.output


def test_main_from_the_git_url_runs_its_nested_steps_from_the_same_checkout_and_env(
        git_main_on_server, git_server, tracking_server):
    assert git_main_on_server.returncode == 0, git_main_on_server.output[-3000:]
    client = tracking_server.client()
    (parent,) = project_runs(client, "main")
    children = [r for r in project_runs(client)
                if r.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id]
    assert sorted(r.data.tags[MLFLOW_PROJECT_ENTRY_POINT] for r in children) == [
        "evaluate", "prepare", "train"]
    for run in [parent, *children]:
        tags = run.data.tags
        assert run.info.status == "FINISHED"
        assert tags[MLFLOW_GIT_COMMIT] == git_server.head
        # The children name the checkout's origin, not this working tree.
        assert tags[MLFLOW_SOURCE_NAME].startswith(git_server.url)
        assert str(PROJECT_DIR) not in tags[MLFLOW_SOURCE_NAME]
        assert tags[MLFLOW_PROJECT_ENV] == "uv"
