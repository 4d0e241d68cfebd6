"""`mlflow models serve` as a child process on a free loopback port (for tests and the benchmark)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serving_env(bin_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    # MLflow starts uvicorn by name: the serving environment's bin/ must be found first.
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def stop_process_group(process: subprocess.Popen, grace: float = 15) -> None:
    """End a process started with its own session, and its children (uvicorn's workers)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class ModelServer:
    """One `mlflow models serve` process; `with ModelServer(uri) as server: server.url …`."""

    def __init__(self, model_uri: str, cwd: str | Path = ".", env: dict[str, str] | None = None,
                 env_manager: str = "local", mlflow: str | Path = BIN_DIR / "mlflow",
                 startup_timeout: float = 180):
        self.model_uri, self.cwd, self.startup_timeout = model_uri, Path(cwd), startup_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkdtemp(prefix="mlflow-serve-")) / "serve.log"
        self.command = [str(mlflow), "models", "serve", "-m", model_uri, "--env-manager",
                        env_manager, "-h", "127.0.0.1", "-p", str(self.port)]
        self.env = serving_env(Path(mlflow).parent, env)
        self.process: subprocess.Popen | None = None

    def start(self) -> "ModelServer":
        with open(self.log, "w") as log:
            # Its own process group, so stopping it also stops the uvicorn it spawns.
            self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()
        return self

    def alive(self) -> bool:
        try:
            return requests.get(f"{self.url}/ping", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"`{' '.join(self.command)}` exited:\n{self.log_tail()}")
            if self.alive():
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"no answer on {self.url} after {self.startup_timeout} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=20)

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
