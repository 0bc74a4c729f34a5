"""A recorded plan holds real values: no null output, no null input.

A null in a plan is a value the offline preview could not produce (an output the
mocks do not compute, an export with nothing to say); Pulumi drops nulls from
outputs on the way through state, so a reader of the real stack would find the key
missing. Each must be fixed in the mocks or in the export.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tools.preview.recorder import Plan


def nulls(value: Any, path: str = "") -> Iterator[str]:
    """The path of every null inside ``value``."""
    if value is None:
        yield path or "."
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from nulls(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from nulls(item, f"{path}[{i}]")


def test_nulls_are_found_where_they_are() -> None:
    assert list(nulls({"a": [1, {"b": None}], "c": None, "d": "x"})) == ["a[1].b", "c"]
    assert list(nulls({"a": 0, "b": False, "c": "", "d": []})) == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "edge"])
def test_no_output_of_a_recorded_plan_is_null(plans: dict[str, Plan], stack: str) -> None:
    assert plans[stack].outputs, "a stack with no outputs proves nothing"
    assert list(nulls(plans[stack].outputs)) == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "edge"])
def test_no_input_of_a_recorded_plan_is_null(plans: dict[str, Plan], stack: str) -> None:
    found = [f"{r['name']}.{where}" for r in plans[stack].resources for where in nulls(r["inputs"])]
    assert found == []
