"""The policy pack installs and runs on its own (policies/README.md, "Install and publish").

Pulumi runs ``policies/__main__.py`` with ``policies/`` as the script directory, in the
pack's own virtualenv (PulumiPolicy.yaml ``virtualenv: venv``). The pack's modules and
the shared facts come from the installed ``llm-inference-blueprint`` distribution, never
from a ``sys.path`` edit. Constructing a ``PolicyPack`` starts a gRPC server and blocks,
so these runs stop it right after the pack has checked its arguments and built its
analyzer (``pulumi_policy.policy._PolicyAnalyzerServicer``), before it serves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import yaml

from policies.registry import PACK_NAME
from tests.conftest import REPO

PACK = REPO / "policies"

# What Pulumi does, minus serving: run __main__.py as the script, with the script's
# folder (the working directory) first on sys.path; record the analyzer it builds.
RUNNER = r"""
import json, runpy, sys
import pulumi_policy.policy as policy

before = list(sys.path)
seen = {}

class Built(Exception):
    pass

class Recorder(policy._PolicyAnalyzerServicer):
    def __init__(self, name, version, policies, enforcement_level, *rest):
        super().__init__(name, version, policies, enforcement_level, *rest)
        seen.update(name=name, policies=[p.name for p in policies],
                    enforcement=str(enforcement_level.value))
        raise Built

policy._PolicyAnalyzerServicer = Recorder
try:
    runpy.run_path("__main__.py", run_name="__main__")
except Built:
    pass
import policies.registry, blueprint
seen["sys_path_unchanged"] = sys.path == before
seen["registered"] = [p.name for p in policies.registry.POLICIES]
seen["registry"] = policies.registry.__file__
seen["blueprint"] = blueprint.__file__
print(json.dumps(seen))
"""


def run_pack(python: Path | str, cwd: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "BLUEPRINT_ROOT"}}
    result = subprocess.run(
        [str(python), "-c", RUNNER],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def assert_is_the_pack(seen: dict[str, Any]) -> None:
    """The pack holds every policy of the registry it imported (this checkout's where the
    project venv has it editable, as `make venv` and CI install it)."""
    assert seen["name"] == PACK_NAME
    assert seen["policies"] == seen["registered"]
    assert seen["policies"]
    assert seen["enforcement"] == "mandatory"
    assert seen["sys_path_unchanged"], "running the pack changed sys.path"


SYS_PATH_EDIT = re.compile(
    r"sys\.path\s*(\.\s*(insert|append|extend|remove|pop)\b|\+?=|\[)|addsitedir|PYTHONPATH"
)


def test_no_module_of_the_pack_edits_sys_path() -> None:
    offenders = [
        str(p.relative_to(REPO))
        for p in PACK.rglob("*.py")
        if "venv" not in p.parts and SYS_PATH_EDIT.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_pack_builds_from_its_folder_with_the_installed_blueprint() -> None:
    """As `pulumi preview --policy-pack policies` runs it: cwd policies/, no PYTHONPATH."""
    assert_is_the_pack(run_pack(sys.executable, PACK))


def test_the_published_pack_runs_from_the_built_distribution_alone(tmp_path: Path) -> None:
    """The archive `pulumi policy publish` uploads, in a venv that has the blueprint's
    wheel and nothing of this checkout: the policies come from the wheel.

    The venv borrows the project venv's third-party packages through a .pth path line
    (site does not run the .pth files of such a path, so the editable install of this
    checkout stays out); requirements.txt's resolution is tests/test_dependencies.py's job.
    """
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("llm_inference_blueprint-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(site)
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    archive = tmp_path / "pack"
    shutil.copytree(PACK, archive, ignore=shutil.ignore_patterns("venv", "__pycache__", "*.pyc"))
    seen = run_pack(python, archive)
    assert_is_the_pack(seen)
    assert Path(seen["registry"]).is_relative_to(site), seen["registry"]
    assert Path(seen["blueprint"]).is_relative_to(site), seen["blueprint"]


def test_the_pack_has_its_own_virtualenv_kept_out_of_git_and_the_archive() -> None:
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    ignored = (PACK / ".gitignore").read_text().split()
    assert "venv/" in ignored


def requirements() -> list[str]:
    lines = (PACK / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_requirements_pin_what_the_pack_runs_and_name_no_path_of_the_checkout() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = (REPO / "constraints.txt").read_text()
    pack_version = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())["version"]
    reqs = requirements()
    # A published pack is installed away from this repository: no paths, no editables.
    assert not [r for r in reqs if r.startswith(("-e", "-c", "-r", ".", "/", "file:"))], reqs

    (policy_sdk,) = [r for r in reqs if r.startswith("pulumi-policy")]
    locked = re.search(r"^pulumi[-_]policy==(\S+)$", lock, re.MULTILINE)
    assert locked is not None
    assert policy_sdk == f"pulumi-policy=={locked.group(1)}"

    (blueprint,) = [r for r in reqs if r.startswith(pyproject["name"])]
    match = re.fullmatch(rf"{pyproject['name']} @ git\+https://\S+@(\S+)", blueprint)
    assert match, f"the blueprint is pinned to a release tag of the repository: {blueprint}"
    assert match.group(1) == f"v{pyproject['version']}" == f"v{pack_version}"
