"""Shared fixtures: the committed stacks' configs and plans, recorded once per session."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.config import StackConfig, load_stack_file, stack_file
from blueprint.config.loader import STACK_DIR
from tools.preview.recorder import Plan
from tools.preview.run import preview_stacks

REPO = Path(__file__).resolve().parents[1]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACK_DIR.glob("Pulumi.*.yaml"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-gpu", action="store_true", help="run tests that need a real GPU node")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-gpu"):
        return
    skip = pytest.mark.skip(reason="needs a real GPU node; run with --run-gpu")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def configs() -> dict[str, StackConfig]:
    return {s: load_stack_file(stack_file(s)) for s in STACKS}


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    """Every committed stack previewed once (the same path as ``make preview``)."""
    results = preview_stacks(STACKS)
    out = {}
    for result in results:
        assert result.plan is not None, str(result.error)
        out[result.stack] = result.plan
    return out


def stack_document(stack: str) -> dict[str, Any]:
    """A committed stack file as data, for tests that change one key of it."""
    return copy.deepcopy(yaml.safe_load(stack_file(stack).read_text()))


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``section.key.key`` (section without namespace) in a stack document."""
    section, *rest = dotted.split(".")
    node = doc["config"].setdefault(f"llm-inference:{section}", {})
    if not rest:
        doc["config"][f"llm-inference:{section}"] = value
        return
    for part in rest[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(rest[-1])] = value
    else:
        node[rest[-1]] = value


def unset_path(doc: dict[str, Any], dotted: str) -> None:
    section, *rest = dotted.split(".")
    if not rest:
        del doc["config"][f"llm-inference:{section}"]
        return
    node = doc["config"][f"llm-inference:{section}"]
    for part in rest[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[rest[-1]]
