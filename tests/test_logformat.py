"""The structured request log format."""

from __future__ import annotations

import io
import json
import logging

from blueprint.monitoring.logformat import REQUIRED, TENANT_HEADER, JsonFormatter, problems
from tools.preview.recorder import Plan


def test_formatter_writes_the_required_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.gateway")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info(
            "request served",
            extra={"model": "chat_llm", "tenant": "support-assistant", "prompt_chars": 512,
                   "request_id": "r-1", "latency_ms": 830.5, "outcome": "ok"},
        )  # fmt: skip
    finally:
        log.removeHandler(handler)
    line = stream.getvalue().strip()
    assert problems(line) == []
    doc = json.loads(line)
    assert set(REQUIRED) <= set(doc)
    assert doc["level"] == "info"
    assert doc["msg"] == "request served"
    assert doc["ts"].endswith("+00:00")


def test_problems_are_named() -> None:
    assert problems("not json")[0].startswith("not JSON")
    found = problems(
        json.dumps({"ts": "x", "level": "info", "prompt": "hello", "prompt_chars": -1})
    )
    assert "missing field 'model'" in found
    assert any("prompt_chars must be" in p for p in found)
    assert any("looks like prompt text" in p for p in found)


def test_the_gateway_logs_requests_in_the_same_shape(plans: dict[str, Plan]) -> None:
    proxies = [
        r
        for plan in plans.values()
        for r in plan.by_type("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy")
    ]
    assert proxies, "no gateway in any stack"
    for proxy in proxies:
        (setting,) = proxy["inputs"]["spec"]["telemetry"]["accessLog"]["settings"]
        assert setting["format"]["type"] == "JSON"
        fields = setting["format"]["json"]
        assert {"ts", "model", "tenant", "request_id", "route", "prompt_bytes"} <= set(fields)
        assert fields["tenant"] == f"%REQ({TENANT_HEADER.upper()})%"
        assert fields["route"].startswith("%REQ(X-")
        assert setting["sinks"] == [{"type": "File", "file": {"path": "/dev/stdout"}}]
