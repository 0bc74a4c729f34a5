"""The composition root as Pulumi runs it: config read once, nothing registered on an error."""

from __future__ import annotations

import pulumi
import pytest
import yaml

from blueprint.config import load_stack_file, stack_file
from tools.preview.mocks import BlueprintMocks
from tools.preview.recorder import RecordingMonitor, record_program
from tools.preview.run import secrets_needed


def test_invalid_config_registers_nothing() -> None:
    raw = yaml.safe_load(stack_file("dev").read_text())["config"]
    raw["llm-inference:gpuPools"]["light-l4"]["nodes"] = {"min": 5, "max": 1}
    monitor = RecordingMonitor(BlueprintMocks())
    with pytest.raises(pulumi.RunError) as info:
        record_program("dev", raw, monitor=monitor)
    assert "llm-inference:gpuPools.light-l4.nodes.min: must be <= max (1)" in str(info.value)
    assert "stacks/Pulumi.dev.yaml" in str(info.value)
    assert monitor.records == []


def test_structured_config_arrives_as_json_text_like_pulumi_sends_it() -> None:
    """Pulumi hands object-valued keys to programs as JSON strings; the program decodes them."""
    raw = yaml.safe_load(stack_file("dev").read_text())["config"]
    secrets = secrets_needed(load_stack_file(stack_file("dev")))  # placeholders, as offline
    plan = record_program("dev", raw, placeholders=list(secrets))
    assert plan.outputs["environment"] == "dev"
    assert "core-aws" in plan.outputs["clusters"]
