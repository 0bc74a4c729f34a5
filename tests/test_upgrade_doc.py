"""docs/upgrade.md names only what exists: make targets, stack-file keys, repository files,
and the add-on table's minors; runbooks/README.md links to it."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from blueprint.catalog import eks_addons
from blueprint.schema import ClusterConfig, StackConfig
from tests.conftest import REPO

DOC = REPO / "docs" / "upgrade.md"
SECTIONS = "clusters|gpuPools|serving|models|monitoring|routing|edge|budget|serverless"


def text() -> str:
    return DOC.read_text()


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (REPO / "Makefile").read_text(), re.M))


def _model_of(annotation: Any) -> Any:
    """The model a field holds: through ``X | None`` and ``dict[str, X]``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        models = [_model_of(a) for a in typing.get_args(annotation) if a is not type(None)]
        return models[0] if models else None
    if origin is dict:
        return _model_of(typing.get_args(annotation)[1])
    return annotation


def resolve(model: type[BaseModel], dotted: str) -> bool:
    """Whether ``dotted`` (camelCase, ``<name>`` for a map key) is a key of ``model``."""
    current: Any = model
    for part in dotted.split("."):
        if part.startswith("<"):
            continue  # a map key: the map's field already moved to its value type
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return False
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        if part not in fields:
            return False
        current = _model_of(fields[part].annotation)
    return True


def test_every_make_target_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)", text()))
    assert named, "the runbook names its make targets"
    assert sorted(named - make_targets()) == []


def test_every_stack_key_exists() -> None:
    keys = set(re.findall(rf"`((?:{SECTIONS})(?:\.[A-Za-z<>]+)+)`", text()))
    keys |= {k for k in re.findall(r"`([a-z][A-Za-z]+)`", text()) if k in {"deletionProtection"}}
    assert len(keys) >= 8
    assert sorted(k for k in keys if not resolve(StackConfig, k)) == []


def test_every_key_in_the_yaml_examples_is_a_cluster_key() -> None:
    aliases = {f.alias or n for n, f in ClusterConfig.model_fields.items()}
    for block in re.findall(r"```yaml\n(.*?)```", text(), re.S):
        keys = set(re.findall(r"^\s*([A-Za-z][A-Za-z-]*):", block, re.M))
        keys -= {"llm-inference", "core-aws"}
        assert sorted(k for k in keys if k not in aliases and ":" not in k) == []
        yaml.safe_load(block)  # each example is valid YAML


def test_every_repository_file_exists() -> None:
    paths = set(re.findall(r"`([\w./*-]+/[\w.*-]+\.(?:ya?ml|md|py))`", text()))
    assert paths
    missing = [p for p in sorted(paths) if not list(REPO.glob(p))]
    assert missing == []


def test_the_staged_example_uses_a_minor_the_addon_table_pins() -> None:
    planes = set(re.findall(r'kubernetesVersion: "(1\.\d+)"', text()))
    assert planes
    assert planes <= set(eks_addons().versions())


def test_runbooks_readme_links_the_upgrade_doc() -> None:
    readme = (REPO / "runbooks" / "README.md").read_text()
    assert "(../docs/upgrade.md)" in readme
    assert Path(REPO / "runbooks" / "../docs/upgrade.md").resolve() == DOC.resolve()


def test_a_key_that_does_not_exist_is_caught() -> None:
    assert resolve(StackConfig, "clusters.<name>.nodeVersion")
    assert not resolve(StackConfig, "clusters.<name>.nodeVersions")
    assert not resolve(StackConfig, "serving.tritonImages")
