"""Examples in component READMEs are executed, so they cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from tools.preview.recorder import record_program

READMES = sorted((REPO / "components").rglob("README.md"))


def examples(readme: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme.read_text(), re.S)


@pytest.mark.parametrize("readme", READMES, ids=[str(r.relative_to(REPO)) for r in READMES])
def test_readme_examples_run_under_mocks(readme: Path, tmp_path: Path) -> None:
    found = examples(readme)
    assert found, f"{readme} has no python example"
    for i, code in enumerate(found):
        program = tmp_path / f"example{i}.py"
        program.write_text(code)
        plan = record_program("example", {}, program=program)
        assert plan.custom, f"example {i} of {readme} registered no cloud resources"
