"""[tool.normlint] configuration (CLI and flake8 plugin) and pre-commit hooks run for real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import ROOT, flake8, normlint, run

SOURCE = textwrap.dedent(
    """\
    import keras
    from keras import layers

    model = keras.Sequential([layers.Dense(8, use_bias=False), layers.BatchNormalization(momentum=0.1)])
    model.fit(x, y, batch_size=12)
    """
)


def _codes_cli(cwd: Path, *args: str) -> list[str]:
    result = normlint("lint", "--format", "json", *args, ".", cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    return sorted(f"{Path(f['path']).name}:{f['code']}" for f in json.loads(result.stdout)["findings"])


def _codes_flake8(cwd: Path) -> list[str]:
    result = flake8("--select", "NL", ".", cwd=cwd)
    out = []
    for line in result.stdout.splitlines():
        path, _, _, rest = line.split(":", 3)
        out.append(f"{Path(path).name}:{rest.split()[0]}")
    return sorted(out)


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    (tmp_path / "model.py").write_text(SOURCE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_model.py").write_text(SOURCE)
    return tmp_path


def test_defaults_without_config(proj: Path):
    assert _codes_cli(proj) == ["model.py:NL601", "test_model.py:NL601"]
    assert _codes_flake8(proj) == _codes_cli(proj)


def test_pyproject_config_is_read_by_cli_and_flake8(proj: Path):
    (proj / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [tool.normlint]
            select = ["NL6"]
            small-batch-threshold = 16

            [tool.normlint.per-file-ignores]
            "tests/*" = ["NL601"]
            """
        )
    )
    expected = ["model.py:NL601", "model.py:NL602", "test_model.py:NL602"]
    assert _codes_cli(proj) == expected
    assert _codes_flake8(proj) == expected
    # command-line options still win
    assert _codes_cli(proj, "--ignore", "NL602") == ["model.py:NL601"]


def test_flake8_option_sets_the_threshold(proj: Path):
    (proj / "setup.cfg").write_text("[flake8]\nnormlint-small-batch-threshold = 13\n")
    assert "model.py:NL602" in _codes_flake8(proj)
    (proj / "setup.cfg").write_text("[flake8]\nnormlint-small-batch-threshold = 12\n")
    assert "model.py:NL602" not in _codes_flake8(proj)


def test_bad_config_is_a_one_line_error(proj: Path):
    (proj / "pyproject.toml").write_text("[tool.normlint]\nselct = ['NL1']\n")
    result = normlint("lint", ".", cwd=proj)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown [tool.normlint] key(s): selct" in result.stderr
    (proj / "pyproject.toml").write_text("[tool.normlint\n")
    result = normlint("lint", ".", cwd=proj)
    assert result.returncode == 2 and "cannot read" in result.stderr and "Traceback" not in result.stderr


def _git_repo(path: Path) -> None:
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(cmd, cwd=path, check=True, capture_output=True)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed by pre-commit")
def test_pre_commit_hooks_run_for_real(tmp_path: Path):
    repo = tmp_path / "user-repo"
    repo.mkdir()
    (repo / "bad.py").write_text("import keras\nm = keras.Sequential([keras.layers.Dropout(0.5), keras.layers.BatchNormalization()])\n")
    (repo / "good.py").write_text("x = 1\n")
    (repo / "explore.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": ["%matplotlib inline\n", "import keras\n",
                              "m = keras.Sequential([keras.layers.Dropout(0.5), keras.layers.BatchNormalization()])\n"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    _git_repo(repo)
    env = {
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        # try-repo snapshots uncommitted changes in a shadow commit: give git an identity on bare CI machines
        "GIT_AUTHOR_NAME": "normlint-tests", "GIT_AUTHOR_EMAIL": "tests@normlint.invalid",
        "GIT_COMMITTER_NAME": "normlint-tests", "GIT_COMMITTER_EMAIL": "tests@normlint.invalid",
    }
    # the repo's own .pre-commit-hooks.yaml, installed into pre-commit's isolated environment
    tried = run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "normlint", "--all-files"], cwd=repo, env=env, timeout=900)
    assert tried.returncode == 1, tried.stdout + tried.stderr
    assert "bad.py:2:23: NL101 Dropout feeds the BatchNormalization" in tried.stdout
    assert "explore.ipynb:cell 1:3:23: NL101 Dropout feeds the BatchNormalization" in tried.stdout  # types_or: jupyter
    # normlint-fix: the safe fix written (pre-commit then fails: files were modified), the unsafe left
    (repo / "bias.py").write_text("import keras\nm = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    fixing = run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "normlint-fix", "--all-files"], cwd=repo, env=env, timeout=900)
    assert fixing.returncode == 1, fixing.stdout + fixing.stderr
    assert "keras.layers.Dense(4, use_bias=False)" in (repo / "bias.py").read_text()
    assert "keras.layers.Dropout(0.5), keras.layers.BatchNormalization()" in (repo / "bad.py").read_text()
    subprocess.run(["git", "rm", "-qf", "bias.py"], cwd=repo, check=True)
    # the flake8 route: flake8's hook with normlint as an additional dependency
    (repo / ".pre-commit-config.yaml").write_text(
        textwrap.dedent(
            f"""\
            repos:
              - repo: local
                hooks:
                  - id: flake8
                    name: flake8
                    entry: flake8 --select NL
                    language: python
                    types: [python]
                    additional_dependencies: ["flake8>=6", "{ROOT}"]
            """
        )
    )
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    flaked = run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env, timeout=900)
    assert flaked.returncode == 1, flaked.stdout + flaked.stderr
    assert "bad.py:2:23: NL101" in flaked.stdout
    (repo / "bad.py").write_text("x = 2\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    clean = run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env, timeout=900)
    assert clean.returncode == 0, clean.stdout
