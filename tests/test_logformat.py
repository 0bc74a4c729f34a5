"""The structured request log format."""

from __future__ import annotations

import io
import json
import logging

from blueprint.monitoring.logformat import REQUIRED, JsonFormatter, problems


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
