"""Examples in component READMEs are executed, and what they create is held to an inventory.

Each ``python`` example is followed by a ``yaml`` block that starts with ``# inventory``:
``count`` is every cloud resource the example registers, by type (exactly: one more or
one fewer fails), and ``values`` holds key inputs by resource name and dotted input path
(``blockDeviceMappings[0].ebs.encrypted``, ``tags["kubernetes.io/role/elb"]``). So a
README cannot claim what the component no longer does.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tools.preview.recorder import Plan, record_program

READMES = sorted((REPO / "components").rglob("README.md"))
PENDING = {"components/k8s/README.md"}
"""READMEs whose inventory belongs to the other half of this change (components/k8s is
theirs): their examples still run; add the block, then remove the entry."""

BLOCK = re.compile(r"```python\n(.*?)```(?:\s*```yaml\n(# inventory.*?)```)?", re.S)


def examples(readme: Path) -> list[tuple[str, dict[str, Any] | None]]:
    """``(code, inventory or None)`` of each python example of ``readme``."""
    return [
        (code, yaml.safe_load(inventory) if inventory else None)
        for code, inventory in BLOCK.findall(readme.read_text())
    ]


def value_at(inputs: Any, path: str) -> Any:
    node = inputs
    for part in re.findall(r'\["[^"]+"\]|\[\d+\]|[^.\[\]]+', path):
        if part.startswith('["'):
            node = node[part[2:-2]]  # a key with dots: tags["kubernetes.io/role/elb"]
        elif part.startswith("["):
            node = node[int(part[1:-1])]
        else:
            node = node[part]
    return node


def mismatches(plan: Plan, inventory: dict[str, Any]) -> list[str]:
    """How the recorded plan differs from the inventory; empty when it matches."""
    out = []
    counted = Counter(r["type"] for r in plan.custom)
    expected = Counter({t: int(n) for t, n in (inventory.get("count") or {}).items()})
    for type_ in sorted(set(counted) | set(expected)):
        if counted[type_] != expected[type_]:
            out.append(
                f"count {type_}: {counted[type_]} registered, inventory says {expected[type_]}"
            )
    for name, values in (inventory.get("values") or {}).items():
        candidates = [r for r in plan.custom if r["name"] == name]
        if not candidates:
            out.append(f"values {name}: no such resource")
            continue
        for path, want in values.items():
            got = []
            for r in candidates:
                try:
                    got.append(value_at(r["inputs"], path))
                except (KeyError, IndexError, TypeError):
                    continue
            if want not in got:
                out.append(f"values {name}.{path}: {got or 'not set'}, inventory says {want!r}")
    return out


@pytest.mark.parametrize("readme", READMES, ids=[str(r.relative_to(REPO)) for r in READMES])
def test_readme_examples_create_their_inventory(readme: Path, tmp_path: Path) -> None:
    found = examples(readme)
    assert found, f"{readme} has no python example"
    for i, (code, inventory) in enumerate(found):
        program = tmp_path / f"example{i}.py"
        program.write_text(code)
        plan = record_program("example", {}, program=program)
        assert plan.custom, f"example {i} of {readme} registered no cloud resources"
        if inventory is None:
            assert str(readme.relative_to(REPO)) in PENDING, (
                f"example {i} of {readme} has no '# inventory' yaml block after it"
            )
            continue
        assert mismatches(plan, inventory) == []


def test_an_inventory_catches_a_missing_resource_and_a_changed_value(tmp_path: Path) -> None:
    readme = REPO / "components" / "README.md"
    (code, inventory), *_ = examples(readme)
    assert inventory is not None
    program = tmp_path / "example.py"
    program.write_text(code)
    plan = record_program("example", {}, program=program)
    assert mismatches(plan, inventory) == []
    fewer = {**inventory, "count": {**inventory["count"], "aws:ec2/natGateway:NatGateway": 1}}
    assert mismatches(plan, fewer) == [
        "count aws:ec2/natGateway:NatGateway: 2 registered, inventory says 1"
    ]
    other = {"count": inventory["count"], "values": {"example-vpc": {"cidrBlock": "10.0.0.0/8"}}}
    assert mismatches(plan, other) == [
        "values example-vpc.cidrBlock: ['10.50.0.0/16'], inventory says '10.0.0.0/8'"
    ]
