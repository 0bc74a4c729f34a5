"""The edge against its core: same model content, classes the core can take, core present."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from blueprint import outputs as out
from blueprint.config import load_stack_file, stack_file
from blueprint.modelrepo.pins import misaligned, model_pin
from tools.preview.recorder import Plan, record_program
from tools.preview.run import preview_stacks, secrets_needed

EDGE_CONFIG = yaml.safe_load(stack_file("edge").read_text())["config"]


def test_edge_and_core_serve_the_same_model_content(plans: dict[str, Plan]) -> None:
    edge, core = plans["edge"].outputs[out.MODEL_PINS], plans["prod"].outputs[out.MODEL_PINS]
    assert set(edge) <= set(core)
    assert misaligned(edge, core) == []
    assert plans["edge"].outputs[out.EDGE_ALIGNMENT] == (
        f"aligned with example-org/llm-inference/prod: {len(edge)} models, 4 classes"
    )


def test_pins_follow_the_content(tmp_path: Path) -> None:
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "config.pbtxt").write_text('name: "m"\n')
    (tmp_path / "m" / "1" / "model.py").write_text("x = 1\n")
    before = model_pin("m", tmp_path)
    assert before["versions"] == ["1"]
    (tmp_path / "m" / "1" / "__pycache__").mkdir()
    (tmp_path / "m" / "1" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"cache")
    assert model_pin("m", tmp_path) == before, "caches are not content"
    (tmp_path / "m" / "2").mkdir()
    (tmp_path / "m" / "2" / "model.py").write_text("x = 2\n")
    after = model_pin("m", tmp_path)
    assert after["versions"] == ["1", "2"]
    assert after["digest"] != before["digest"]
    assert model_pin("absent", tmp_path) == {"versions": []}


def test_an_llm_pins_to_its_manifest(tmp_path: Path) -> None:
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "llm.yaml").write_text("engine: vllm\n")
    pin = model_pin("llm", tmp_path)
    assert pin["versions"] == []
    assert str(pin["digest"]).startswith("sha256:")
    (tmp_path / "llm" / "llm.yaml").write_text("engine: vllm \n")
    assert model_pin("llm", tmp_path)["digest"] != pin["digest"]


@pytest.mark.parametrize(
    ("core", "aligned"),
    [
        ({"versions": ["1", "2"], "digest": "sha256:aa"}, True),
        ({"versions": ["2", "1"], "digest": "sha256:aa"}, False),  # order is content
        ({"versions": ["1", "2"], "digest": "sha256:ab"}, False),  # one digest byte
        ({"versions": ["1"], "digest": "sha256:aa"}, False),  # versions alone
        ({"versions": ["1", "2"]}, False),  # a core that pins no digest
        ({"versions": [1, 2], "digest": "sha256:aa"}, True),  # numbers as the backend keeps them
    ],
)
def test_the_digest_check_compares_versions_and_digest(
    core: dict[str, Any], *, aligned: bool
) -> None:
    edge = {"chat_llm": {"versions": ["1", "2"], "digest": "sha256:aa"}}
    assert (misaligned(edge, {"chat_llm": core, "other": {"versions": []}}) == []) is aligned


def test_misaligned_names_each_model_and_the_fix() -> None:
    edge = {"chat_llm": {"versions": ["1", "2"], "digest": "sha256:aa"}}
    assert misaligned(edge, {"chat_llm": {"versions": ["1", "2"], "digest": "sha256:aa"}}) == []
    assert misaligned(edge, {"chat_llm": {"versions": ["1"], "digest": "sha256:bb"}}) == [
        "chat_llm: edge serves versions ['1', '2'] (sha256:aa), the core ['1'] (sha256:bb); "
        "deploy the core and the edge from the same commit"
    ]
    assert misaligned(edge, {}) == [
        "chat_llm: served at the edge but not by the core; deploy it on the core first"
    ]


def core_outputs(plans: dict[str, Plan]) -> dict[str, Any]:
    return copy.deepcopy(plans["prod"].outputs)


def record_edge(outputs: dict[str, Any]) -> None:
    # The receivers' secrets as the offline preview gives them: placeholders marked secret.
    secrets = secrets_needed(load_stack_file(stack_file("edge")))
    record_program("edge", EDGE_CONFIG, {"prod": outputs}, placeholders=list(secrets))


def test_edge_refuses_a_core_serving_other_model_versions(plans: dict[str, Plan]) -> None:
    core = core_outputs(plans)
    pin = core[out.MODEL_PINS]["chat_llm"]
    core[out.MODEL_PINS]["chat_llm"] = {"versions": ["1"], "digest": "sha256:older"}
    with pytest.raises(pulumi.RunError) as info:
        record_edge(core)
    assert str(info.value) == (
        "edge stack is out of line with its core example-org/llm-inference/prod:\n"
        f"  chat_llm: edge serves versions {pin['versions']} ({pin.get('digest')}), the core "
        "['1'] (sha256:older); deploy the core and the edge from the same commit"
    )


def test_edge_refuses_a_core_that_does_not_route_a_delegated_class(
    plans: dict[str, Plan],
) -> None:
    core = core_outputs(plans)
    del core[out.ROUTING]["classes"]["long-context"]
    with pytest.raises(pulumi.RunError) as info:
        record_edge(core)
    assert str(info.value).endswith(
        "class long-context: the edge routes or delegates it, but the core does not route it, "
        "so delegation and failover to the core would fail; add it to the core's "
        "routing.classes"
    )


def test_edge_refuses_a_core_that_exports_no_pins(plans: dict[str, Plan]) -> None:
    core = core_outputs(plans)
    del core[out.MODEL_PINS]
    with pytest.raises(pulumi.RunError, match="exports no modelPins; deploy the core first"):
        record_edge(core)


def test_preview_refuses_an_edge_whose_core_is_missing(tmp_path: Path) -> None:
    shutil.copy(stack_file("edge"), tmp_path / "Pulumi.edge.yaml")
    doc = yaml.safe_load((tmp_path / "Pulumi.edge.yaml").read_text())
    doc["config"]["llm-inference:edge"]["coreStack"] = "example-org/llm-inference/prod-eu"
    (tmp_path / "Pulumi.edge.yaml").write_text(yaml.safe_dump(doc))
    (result,) = preview_stacks(["edge"], tmp_path)
    assert result.plan is None
    assert result.error is not None
    (line,) = result.error.lines()
    assert line.endswith(
        "llm-inference:edge.coreStack: the core stack cannot be previewed: there is no stack "
        f"file {tmp_path}/Pulumi.prod-eu.yaml (got 'prod-eu')"
    )
