"""Pulumi.yaml's stack configuration keys and the schema's (StackConfig) are the same.

The keys every stack must set are declared in Pulumi.yaml's `config:` block, typed and
described, so `pulumi config` shows them and Pulumi names a missing one before the
program runs. The structured sections cannot be declared there (a project config type
is string, integer, boolean or array, and a declared key without a default is required
of every stack), so the file's comment lists each with what it holds. Every top-level
key of the schema is in exactly one of the two, and nothing else is in either.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

import pytest
import yaml

from blueprint.schema import NAMESPACE, StackConfig
from tests.conftest import REPO, STACKS, stack_document

PROJECT_FILE = REPO / "Pulumi.yaml"
# A comment line of Pulumi.yaml that lists an undeclared section: "#   <key>   <what>".
LISTED = re.compile(rf"^#\s+({re.escape(NAMESPACE)}:[A-Za-z]+)\s{{2,}}(\S.*)$", re.MULTILINE)
# The config types Pulumi's project file reference documents.
PULUMI_TYPES = {"string", "integer", "boolean", "array"}


def project() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(PROJECT_FILE.read_text(encoding="utf-8"))
    return doc


def declared() -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = project().get("config") or {}
    return config


def listed() -> dict[str, str]:
    return dict(LISTED.findall(PROJECT_FILE.read_text(encoding="utf-8")))


def schema_keys(*, required: bool) -> dict[str, Any]:
    """The schema's top-level keys as stack files spell them, with their field types."""
    return {
        f"{NAMESPACE}:{field.alias or name}": field.annotation
        for name, field in StackConfig.model_fields.items()
        if field.is_required() == required
    }


def test_the_project_name_is_the_config_namespace() -> None:
    assert project()["name"] == NAMESPACE


def test_declared_keys_are_the_schema_keys_every_stack_must_set() -> None:
    assert set(declared()) == set(schema_keys(required=True))


def test_listed_keys_are_the_schema_sections_a_stack_may_leave_out() -> None:
    assert set(listed()) == set(schema_keys(required=False))
    assert not set(listed()) & set(declared()), "a key is both declared and listed"


def test_every_schema_key_is_declared_or_listed() -> None:
    everything = {f"{NAMESPACE}:{f.alias or n}" for n, f in StackConfig.model_fields.items()}
    assert set(declared()) | set(listed()) == everything


@pytest.mark.parametrize("key", sorted(schema_keys(required=True)))
def test_a_declaration_is_typed_and_described_with_no_default(key: str) -> None:
    declaration = declared()[key]
    # A default or a value would be merged into every stack by Pulumi; `secret` is not
    # what these keys are.
    assert set(declaration) == {"type", "description"}, declaration
    assert declaration["type"] in PULUMI_TYPES
    annotation = schema_keys(required=True)[key]
    if isinstance(annotation, type) and issubclass(annotation, str):
        assert declaration["type"] == "string"
    description = declaration["description"].strip()
    assert description, f"{key} has no description"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        missing = [m.value for m in annotation if str(m.value) not in description]
        assert not missing, f"{key}: the description does not name {missing}"


@pytest.mark.parametrize("key", sorted(schema_keys(required=False)))
def test_a_listed_section_says_what_it_holds(key: str) -> None:
    assert len(listed()[key].split()) >= 3, listed()[key]


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_sets_every_declared_key(stack: str) -> None:
    """A declared key without a default is required: `pulumi up` stops with "Stack '<s>'
    is missing configuration value ..." on a stack without it."""
    config = stack_document(stack)["config"]
    assert set(declared()) <= set(config)
