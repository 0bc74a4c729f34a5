"""Stack config, model configs and the policy config report mistakes in one format."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from blueprint import diagnostics
from blueprint.config import ConfigError, load_stack_file
from policies.config import PolicyConfigError
from policies.config import load as load_policy_config
from tests.conftest import REPO, set_path, stack_document
from tools.modelcheck.validate import validate


def assert_diagnostic(line: str, file: str, key: str) -> None:
    match = diagnostics.PATTERN.match(line)
    assert match is not None, f"not 'file:line: key: message': {line}"
    assert match["file"].endswith(file), line
    assert match["line"] is not None, line
    assert int(match["line"]) > 0, line
    assert match["key"] == key, line


def test_render_shows_where_what_the_value_and_the_fix() -> None:
    got = diagnostics.render("a.yaml", 3, "k.x", "must be small", value=[1] * 50, fix="lower it")
    assert got.startswith("a.yaml:3: k.x: must be small (got [1, 1, ")
    assert got.endswith("...); fix: lower it")
    assert diagnostics.render("a.yaml", None, "k", "missing") == "a.yaml: k: missing"


def test_a_stack_file_mistake(tmp_path: Path) -> None:
    doc = stack_document("dev")
    set_path(doc, "gpuPools.light-l40s.nodes.max", 5000)
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    (line,) = info.value.lines()
    assert_diagnostic(line, "Pulumi.dev.yaml", "llm-inference:gpuPools.light-l40s.nodes.max")
    assert "(got 5000)" in line


def test_a_model_config_mistake(tmp_path: Path) -> None:
    repo = tmp_path / "model_repo"
    shutil.copytree(REPO / "model_repo" / "text_embedding", repo / "text_embedding")
    config = repo / "text_embedding" / "config.pbtxt"
    config.write_text(config.read_text().replace('"text_embedding"', '"text_embedder"', 1))
    (finding,) = [f for f in validate(repo) if f.field == "name"]
    line = finding.render(tmp_path)
    assert_diagnostic(line, "text_embedding/config.pbtxt", "name")
    assert "(got 'text_embedder'); fix: " in line


def test_a_policy_config_mistake(tmp_path: Path) -> None:
    path = tmp_path / "environments.yaml"
    doc = yaml.safe_load((REPO / "policies" / "environments.yaml").read_text())
    doc["environments"]["dev"]["min-replicas"] = "sometimes"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(PolicyConfigError) as info:
        load_policy_config(path)
    (line,) = [x for x in str(info.value).splitlines()[1:] if x.strip()]
    assert_diagnostic(line.strip(), "environments.yaml", "environments.dev.min-replicas")
    assert "(got 'sometimes')" in line
