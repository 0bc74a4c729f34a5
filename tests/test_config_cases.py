"""Deliberately broken stack files, each next to the exact errors it must produce.

A case in ``config_cases/`` names a committed stack (``base``), the keys it
changes (``set``, ``unset``, ``raw`` for keys outside the blueprint's namespace)
and the errors the loader must report, as ``key: message (got value)`` lines; or,
with ``accepted: true`` and no errors, a change a rule must let through (the edge
of a rule, such as nodes one minor behind the control plane).
The case is written out as a real stack file and loaded the way ``make preview``
loads one; the test also checks the file and line are named, and that the
offline preview refuses it with exit status 2 and no traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.config import ConfigError, load_stack_file
from tests.conftest import REPO, set_path, stack_document, unset_path

CASES = sorted((Path(__file__).parent / "config_cases").glob("*.yaml"))


def build_case(case: dict[str, Any], directory: Path) -> Path:
    doc = stack_document(case["base"])
    for dotted, value in (case.get("set") or {}).items():
        set_path(doc, dotted, value)
    for dotted in case.get("unset") or []:
        unset_path(doc, dotted)
    doc["config"].update(case.get("raw") or {})
    path = directory / f"Pulumi.{case['base']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_case_is_refused_with_its_exact_errors(case_file: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(case_file.read_text())
    path = build_case(case, tmp_path)
    if case.get("accepted"):
        assert "errors" not in case, f"{case_file.name}: an accepted case lists no errors"
        load_stack_file(path)
        return
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    got = sorted(line.split(": ", 1)[1] for line in info.value.lines())
    assert "errors" in case, f"{case_file.name}: add the expected errors:\n" + yaml.safe_dump(
        {"errors": got}, width=1000
    )
    assert got == sorted(case["errors"])
    # Every line names the file; keys present in the file also carry their line.
    for line in info.value.lines():
        assert line.startswith(str(path))


def test_every_case_describes_itself() -> None:
    for case_file in CASES:
        case = yaml.safe_load(case_file.read_text())
        assert case.get("description"), f"{case_file.name} has no description"
        assert set(case) <= {"description", "base", "set", "unset", "raw", "errors", "accepted"}


def test_line_numbers_point_at_the_bad_key(tmp_path: Path) -> None:
    case = yaml.safe_load(
        (Path(__file__).parent / "config_cases" / "negative-size.yaml").read_text()
    )
    path = build_case(case, tmp_path)
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    (line,) = info.value.lines()
    number = int(line.split(":")[1])
    assert path.read_text().splitlines()[number - 1].strip().startswith("min: -1")


def test_all_errors_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    doc = stack_document("prod")
    set_path(doc, "gpuPools.heavy-h100.mig.profile", "2g.40gb")
    set_path(doc, "gpuPools.light-l4.onDemandFloor", 0)
    set_path(doc, "gpuPools.light-l40s.instanceTypes", ["g6e.xlarge"])
    set_path(doc, "models.chat-llm.cluster", "core-azure")
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    keys = {i.key for i in info.value.issues}
    assert keys == {
        "llm-inference:gpuPools.heavy-h100.mig.profile",
        "llm-inference:gpuPools.light-l4.onDemandFloor",
        "llm-inference:gpuPools.light-l40s.instanceTypes",
        "llm-inference:models.chat-llm.cluster",
    }


def test_preview_refuses_a_broken_stack_without_traceback(tmp_path: Path) -> None:
    case = yaml.safe_load(
        (Path(__file__).parent / "config_cases" / "min-above-max.yaml").read_text()
    )
    build_case(case, tmp_path)
    out = tmp_path / "plan"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.preview",
            "dev",
            "--stack-dir",
            str(tmp_path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "llm-inference:gpuPools.light-l4.nodes.min: must be <= max (2)" in proc.stderr
    assert not out.exists(), "nothing may be written for a stack with configuration errors"
