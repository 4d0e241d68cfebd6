"""The project's files agree with each other: MLproject ↔ params.py, conda.yaml ↔ pyproject."""

import re
import tomllib
from pathlib import Path

import yaml

from diamonds_mlflow import params

ROOT = Path(__file__).resolve().parents[2]


def test_mlproject_declares_exactly_the_parameters_the_code_parses():
    project = yaml.safe_load((ROOT / "MLproject").read_text())
    assert set(project["entry_points"]) == set(params.ENTRY_POINTS)
    for name, entry in project["entry_points"].items():
        declared = params.ENTRY_POINTS[name]
        assert list(entry["parameters"]) == [p.name for p in declared], name
        for param in declared:
            spec = entry["parameters"][param.name]
            assert spec["type"] == param.type, (name, param.name)
            assert str(spec["default"]) == str(param.default), (name, param.name)
            assert f"--{param.name} {{{param.name}}}" in entry["command"], (name, param.name)
        assert entry["command"].startswith(f"python -m entrypoints.{name} ")


def test_conda_env_and_pyproject_pin_the_same_packages():
    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sorted(pip) == sorted(pyproject["project"]["dependencies"])
    assert "mlflow==3.17.2" in pip
    assert all("==" in requirement for requirement in pip)


def test_ci_runs_the_readme_test_command_word_for_word():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_command = next(c for c in commands if "pytest" in c and "[test]" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert "mlflow run . --env-manager local" in commands[0]


def test_entry_point_scripts_only_hand_over_to_the_package():
    for script in (ROOT / "entrypoints").glob("*.py"):
        code = [line for line in script.read_text().splitlines()
                if line.strip() and not line.startswith(('"""', "from ", "if __name__"))]
        assert len(code) <= 1, script.name
