"""The conda environment and pyproject.toml must name the same dependencies and ranges."""

import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement

import nlp_course

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _norm(specs):
    out = {}
    for s in specs:
        req = Requirement(s)
        name = req.name.lower().replace("_", "-")
        out[name] = (str(req.specifier), tuple(sorted(req.extras)))
    return out


def _pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    return project, project["dependencies"] + project["optional-dependencies"]["dev"]


def _conda_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: section"
    return env, [s for s in pip_lists[0] if not s.startswith("-e")]


def test_environment_matches_pyproject():
    _, py = _pyproject()
    _, conda = _conda_pip()
    assert _norm(conda) == _norm(py)


def test_python_floor_agrees():
    project, _ = _pyproject()
    env, _ = _conda_pip()
    conda_python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert conda_python == ["python" + project["requires-python"]]


def test_every_dependency_has_a_range():
    _, py = _pyproject()
    for spec in py:
        assert Requirement(spec).specifier, f"{spec} has no version range"


def test_version_is_exposed():
    assert nlp_course.__version__.count(".") == 2
