"""A seeded, bounded mutation fuzz of the stack files and the model configs.

Every mutant must end in a clean verdict: accepted, or refused with a diagnostic
(ConfigError, findings); never another exception (which the CLIs would print as a
traceback), never a hang. Seeds are fixed so a failure reproduces; FUZZ_SEED and
FUZZ_CASES widen a local run.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest
import yaml

from blueprint.config import ConfigError, load_stack_file
from tests.conftest import REPO, STACKS
from tools.modelcheck.validate import validate

SEED = int(os.environ.get("FUZZ_SEED", "20261203"))
CASES = int(os.environ.get("FUZZ_CASES", "300"))

_VALUES = [
    True, False, None, 0, -1, 2**63, 1.5, float("inf"), "", "x" * 300, "latest", "../..",
    "10.0.0.0/8", [], {}, [None], {"a": {"b": [1, {}]}}, "é\u200b", "0x1F", "1e309",
]  # fmt: skip


def _paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: dict[str, object], rng: random.Random) -> dict[str, object]:
    paths = _paths(doc)
    for _ in range(rng.randint(1, 3)):
        if not paths:
            break
        path = rng.choice(paths)
        parent: object = doc
        for part in path[:-1]:
            parent = parent[part]  # type: ignore[index]
        key = path[-1]
        action = rng.random()
        if action < 0.6:
            parent[key] = rng.choice(_VALUES)  # type: ignore[index]
        elif action < 0.8 and isinstance(parent, dict):
            parent.pop(key, None)
        elif isinstance(parent, dict):
            parent[f"{key}x"] = rng.choice(_VALUES)
        paths = _paths(doc)
    return doc


def test_stack_file_mutants_end_in_a_clean_verdict(tmp_path: Path) -> None:
    rng = random.Random(SEED)  # noqa: S311 (reproducible, not secret)
    bases = {s: yaml.safe_load((REPO / "stacks" / f"Pulumi.{s}.yaml").read_text()) for s in STACKS}
    start = time.monotonic()
    refused = 0
    for i in range(CASES):
        stack = rng.choice(STACKS)
        doc = _mutate(yaml.safe_load(yaml.safe_dump(bases[stack])), rng)
        path = tmp_path / f"Pulumi.{stack}.yaml"
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        if rng.random() < 0.1:  # text-level damage too
            cut = rng.randrange(len(text))
            text = text[:cut] + rng.choice(["\t", ": :", "- [", "&a *a", "\x00"]) + text[cut:]
        path.write_text(text, encoding="utf-8")
        try:
            load_stack_file(path)
        except ConfigError:
            refused += 1
        except Exception as exc:  # noqa: BLE001 (what the fuzz exists to find)
            pytest.fail(f"mutant {i} (seed {SEED}) of {stack} crashed: {exc!r}\n{text[:2000]}")
    elapsed = time.monotonic() - start
    print(f"\nstack-file fuzz: {CASES} mutants, {refused} refused, {elapsed:.1f} s (seed {SEED})")
    assert refused > CASES // 2  # the mutations do reach the checks


_PBTXT_EDITS = [
    ("max_batch_size: 8", "max_batch_size: -3"),
    ("dims: [ -1 ]", "dims: [ 0 ]"),
    ("TYPE_STRING", "TYPE_INVALID"),
    ('name: "TEXT"', 'name: ""'),
    ('value: { string_value: "250" }', 'value: { string_value: "inf" }'),
    ('value: { string_value: "250" }', 'value: { string_value: "nan" }'),
    ("count: 1", "count: -1"),
    ("instance_group", "instance_groups"),
    ("{", ""),
    ("max_queue_delay_microseconds: 1000", "max_queue_delay_microseconds: 99999999999999999999"),
]


def test_model_config_mutants_end_in_a_clean_verdict(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)  # noqa: S311 (reproducible, not secret)
    start = time.monotonic()
    refused = 0
    for i in range(CASES // 3):
        repo = tmp_path / f"repo{i}"
        shutil.copytree(
            REPO / "model_repo" / "text_embedding",
            repo / "text_embedding",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        config = repo / "text_embedding" / "config.pbtxt"
        text = config.read_text()
        for old, new in rng.sample(_PBTXT_EDITS, rng.randint(1, 3)):
            text = text.replace(old, new, 1)
        kind = rng.random()
        if kind < 0.15:
            config.write_bytes(text.encode() + b"\n# \xff\xfe")
        else:
            config.write_text(text)
        if rng.random() < 0.2:
            (
                repo / "text_embedding" / rng.choice(["01", "-1", "v2", "1.0", "999999999999"])
            ).mkdir()
        if rng.random() < 0.2:
            (repo / "text_embedding" / "1" / "weights.json").write_text(
                rng.choice(["{", "[]", '{"package": 3}', '{"files": {"a": 1}}'])
            )
        try:
            refused += bool(validate(repo))
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"model mutant {i} (seed {SEED + 1}) crashed the validator: {exc!r}")
        shutil.rmtree(repo)
    print(
        f"\nmodel-config fuzz: {CASES // 3} mutants, {refused} refused, "
        f"{time.monotonic() - start:.1f} s"
    )
    assert refused > CASES // 6  # the mutations do reach the checks
