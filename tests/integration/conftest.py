"""Real servers for the "run it from anywhere" tests: a git daemon and an `mlflow server`.

Both listen on 127.0.0.1 only, on a free port, and live for the whole session, so the tests
that need them share one of each; every process started here is stopped here.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

# The tests import these from here; the package's copies also serve the benchmark.
from diamonds_mlflow.local_server import free_port  # noqa: F401
from diamonds_mlflow.local_server import stop_process_group as stop
from tests.conftest import BIN_DIR, PROJECT_DIR, Store, quick_training

LOOPBACK = "127.0.0.1"


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def wait_until(ready, what: str, timeout: float = 60, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        try:
            if ready():
                return
        except (OSError, requests.RequestException, subprocess.SubprocessError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} was not ready within {timeout}s")


def git(*args: str, cwd: Path | None = None) -> str:
    identity = ["-c", "user.name=tests", "-c", "user.email=tests@localhost"]
    done = subprocess.run(["git", *identity, *args], cwd=cwd, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


@dataclass
class GitServer:
    """A bare clone of the committed project behind `git daemon`, with one extra branch."""

    url: str
    head: str  # the committed HEAD of the project: the default branch's tip
    branch: str  # a branch two commits ahead of head, each changing the package's code
    branch_tip: str
    branch_middle: str  # reachable, but the tip of no branch


def add_branch(bare: Path, scratch: Path, branch: str) -> tuple[str, str]:
    """Two commits on `branch`, each changing the package, pushed to `bare`; their hashes."""
    work = scratch / "branch-work"
    git("clone", "-q", str(bare), str(work))
    git("checkout", "-q", "-b", branch, cwd=work)
    marker = work / "diamonds_mlflow" / "__init__.py"
    commits = []
    for step in (1, 2):
        with open(marker, "a") as handle:
            handle.write(f"# {branch}: change {step}\n")
        git("commit", "-q", "-am", f"{branch}: change {step}", cwd=work)
        commits.append(git("rev-parse", "HEAD", cwd=work))
    git("push", "-q", "origin", branch, cwd=work)
    return commits[0], commits[1]


@pytest.fixture(scope="session")
def git_server(tmp_path_factory) -> GitServer:
    """`git daemon` on loopback serving `repo`: what is committed, never the working tree."""
    base = tmp_path_factory.mktemp("git")
    bare = base / "repo"
    git("clone", "-q", "--bare", str(PROJECT_DIR), str(bare))
    middle, tip = add_branch(bare, tmp_path_factory.mktemp("git-scratch"), "feature")
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--export-all", "--reuseaddr", "--informative-errors",
         f"--base-path={base}", f"--listen={LOOPBACK}", f"--port={port}", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"git://{LOOPBACK}:{port}/repo"
    try:
        wait_until(lambda: git("ls-remote", url), "git daemon", process=daemon)
        head = git("rev-parse", "HEAD", cwd=bare)
        yield GitServer(url, head, "feature", tip, middle)
    finally:
        stop(daemon)


@dataclass
class TrackingServer:
    """`mlflow server` with a SQLite backend and proxied artifacts (mlflow-artifacts:/)."""

    url: str
    folder: Path

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory) -> TrackingServer:
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    env = Store(folder).env()
    env.pop("PYTEST_CURRENT_TEST", None)  # MLflow's own test-only checks are not for a server
    log = open(folder / "server.log", "w")
    server = subprocess.Popen(
        [str(BIN_DIR / "mlflow"), "server", "--backend-store-uri",
         f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "artifacts"),
         "--host", LOOPBACK, "--port", str(port), "--workers", "1"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_until(lambda: requests.get(f"{url}/health", timeout=2).ok, "mlflow server",
                   timeout=90, process=server)
        yield TrackingServer(url, folder)
    finally:
        stop(server, grace=5)  # a scratch store: a slow graceful shutdown buys nothing
        log.close()


@dataclass
class Finished:
    """A finished `mlflow` command: its exit code, output and wall time."""

    returncode: int
    output: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def run_mlflow(cwd: Path, *args: str, timeout: float = 600, **env: str) -> Finished:
    """The `mlflow` CLI in `cwd`, output (stdout and stderr together) kept, never raising."""
    start = time.monotonic()
    done = subprocess.run([str(BIN_DIR / "mlflow"), *args], cwd=cwd, env=Store(cwd).env(**env),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    return Finished(done.returncode, done.stdout, time.monotonic() - start)


LOG_TIME = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) INFO (.*)$", re.M)


def uv_env_build_seconds(output: str) -> float | None:
    """From MLflow's log: creating the uv environment → running the first command."""
    stamps = [(time.mktime(time.strptime(when, "%Y/%m/%d %H:%M:%S")), text)
              for when, text in LOG_TIME.findall(output)]
    created = [t for t, text in stamps if "Creating a new environment" in text]
    ran = [t for t, text in stamps if "Running command" in text]
    return ran[0] - created[0] if created and ran else None


@dataclass
class SmallData:
    """A sample of the real table, as a source file and as a prepared split (absolute paths)."""

    source: Path
    split: Path


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> SmallData:
    """8,000 real rows: these tests check plumbing, and a quarter of the work per step is data."""
    import pandas as pd

    from diamonds_mlflow import data

    folder = tmp_path_factory.mktemp("small-data")
    table, _ = data.clean(pd.read_csv(data.BUNDLED_FILE).sample(8000, random_state=0))
    table.to_csv(folder / "prices.csv", index=False)
    data.write_split(*data.split(table, data.DEFAULT_TEST_SIZE, data.DEFAULT_SEED),
                     folder / "split")
    return SmallData(folder / "prices.csv", folder / "split")


def quick_small_training(small_data: SmallData, **overrides: str) -> list[str]:
    """`quick_training()` on the small split."""
    return quick_training(data=str(small_data.split), **overrides)


@pytest.fixture(scope="session")
def git_main_on_server(git_server, tracking_server, small_data, tmp_path_factory) -> Finished:
    """The whole workflow from the git URL, in uv environments, against the team server.

    One run serves three test modules (git, environment managers, tracking server): it is the
    costliest command of the suite, and each module checks its own side of it.
    """
    empty = tmp_path_factory.mktemp("empty-cwd")
    finished = run_mlflow(empty, "run", git_server.url,
                          *quick_training(source=str(small_data.source)),
                          "--env-manager", "uv", MLFLOW_TRACKING_URI=tracking_server.url)
    finished.timings["uv_env_build"] = uv_env_build_seconds(finished.output) or 0.0
    print(f"\nmain from git with uv against the server: {finished.seconds:.0f}s "
          f"(uv environment build {finished.timings['uv_env_build']:.0f}s, 0 = reused)")
    assert os.listdir(empty) == [], "the run wrote into the caller's directory"
    return finished
