"""The stack files' JSON Schema (``stacks/schema.json``): current, and true to the model.

Editors complete and check the stack files with this schema, so it must be the
committed render of :class:`StackConfig`, accept every committed stack, refuse
what the loader refuses for shape (unknown keys, wrong types) and describe every
key it offers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from blueprint.config import ConfigError, StackConfig, stack_file, validate_config
from blueprint.config.loader import StackSource
from blueprint.schema import SECRET_KEYS
from tests.conftest import STACKS, set_path, stack_document, unset_path
from tools import schema as export

SCHEMA_COMMENT = "# yaml-language-server: $schema=./schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = export.stack_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_a_fresh_render() -> None:
    assert export.SCHEMA_FILE.read_text(encoding="utf-8") == export.render(), (
        "stacks/schema.json is stale; run python -m tools.schema"
    )


def test_check_reports_a_stale_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schema.json"
    out.write_text("{}\n")
    assert export.main(["--check", "--out", str(out)]) == export.EXIT_STALE
    assert "is stale; run python -m tools.schema" in capsys.readouterr().err
    assert out.read_text() == "{}\n"
    assert export.main(["--out", str(out)]) == 0
    assert export.main(["--check", "--out", str(out)]) == 0


def test_bad_usage_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        export.main(["--no-such-flag"])
    assert info.value.code == export.EXIT_USAGE


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_validates_against_the_schema(
    stack: str, validator: jsonschema.Draft202012Validator
) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(stack_document(stack))]
    assert errors == []


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_names_the_schema_on_its_first_line(stack: str) -> None:
    first = stack_file(stack).read_text().splitlines()[0]
    assert first == SCHEMA_COMMENT


def _model_refuses(doc: dict[str, Any]) -> bool:
    try:
        validate_config(doc["config"], StackSource("case", None))
    except ConfigError:
        return True
    return False


def _unknown_section(doc: dict[str, Any]) -> None:
    doc["config"]["llm-inference:gpuPool"] = {}


def _unknown_nested_key(doc: dict[str, Any]) -> None:
    set_path(doc, "gpuPools.light-l4.nodez", {"min": 0, "max": 1})


def _wrong_type(doc: dict[str, Any]) -> None:
    set_path(doc, "gpuPools.light-l4.spot", "often")


def _wrong_enum(doc: dict[str, Any]) -> None:
    set_path(doc, "clusters.core-aws.cloud", "azure")


def _missing_required(doc: dict[str, Any]) -> None:
    unset_path(doc, "team")


def _float_quantity(doc: dict[str, Any]) -> None:
    set_path(doc, "models.chat-llm.resources.requests.cpu", 0.5)


POOL = "$.config['llm-inference:gpuPools']['light-l4']"
BROKEN = {
    # name: (how the committed dev stack is broken, where the schema must point)
    "unknown-section": (_unknown_section, "$.config"),
    "unknown-nested-key": (_unknown_nested_key, POOL),
    "wrong-type": (_wrong_type, f"{POOL}.spot"),
    "wrong-enum": (_wrong_enum, "$.config['llm-inference:clusters']['core-aws'].cloud"),
    "missing-required": (_missing_required, "$.config"),
    "float-quantity": (
        _float_quantity,
        "$.config['llm-inference:models']['chat-llm'].resources.requests.cpu",
    ),
}


@pytest.mark.parametrize(("breaking", "where"), BROKEN.values(), ids=BROKEN.keys())
def test_schema_refuses_what_the_model_refuses(
    breaking: Callable[[dict[str, Any]], None],
    where: str,
    validator: jsonschema.Draft202012Validator,
) -> None:
    doc = stack_document("dev")
    assert validator.is_valid(doc)
    breaking(doc)
    assert _model_refuses(doc)
    assert [e.json_path for e in validator.iter_errors(doc)] == [where]


def test_keys_of_other_namespaces_and_pulumi_settings_are_accepted(
    validator: jsonschema.Draft202012Validator,
) -> None:
    doc = stack_document("dev")
    doc["config"]["kubernetes:context"] = "kind-dev"
    doc["config"]["llm-inference-tools:anything"] = {"x": 1}
    doc["secretsprovider"] = "awskms://alias/llm-inference"
    doc["encryptedkey"] = "AQICAHh"
    doc["environment"] = ["llm-inference/dev"]
    assert validator.is_valid(doc)
    doc["secretsProvider"] = "passphrase"  # Pulumi spells its keys in lowercase
    assert not validator.is_valid(doc)


def _objects(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object with properties, named by where it is."""
    stack: list[tuple[str, Any]] = [("#", node)]
    while stack:
        where, current = stack.pop()
        if isinstance(current, dict):
            if isinstance(current.get("properties"), dict):
                yield where, current
            stack.extend((f"{where}/{k}", v) for k, v in current.items())
        elif isinstance(current, list):
            stack.extend((f"{where}/{i}", v) for i, v in enumerate(current))


def test_every_section_and_property_is_described() -> None:
    schema = export.stack_file_schema()
    sections = schema["properties"]["config"]["properties"]
    assert set(sections) == {
        f"llm-inference:{field.alias or name}" for name, field in StackConfig.model_fields.items()
    } | {f"llm-inference:{key}" for key in SECRET_KEYS}
    undescribed = [
        f"{where}/properties/{name}"
        for where, obj in _objects(schema)
        for name, prop in obj["properties"].items()
        if not (isinstance(prop, dict) and str(prop.get("description", "")).strip())
    ]
    assert undescribed == []
    assert len(list(_objects(schema))) > 20  # the walk reached the $defs
