"""The platform's structured log format: one JSON object per line, with model, tenant and
prompt length on every request log.

Where the platform writes logs about requests (Triton's Python models, any gateway or
router, the local tools), each line is a JSON object with at least :data:`REQUIRED`;
prompt *text* is never logged, only its length. :class:`JsonFormatter` writes the
format from Python's ``logging``; :func:`problems` checks a line (tests of any
component that writes these logs can use it). Cluster log pipelines (CloudWatch Logs,
Cloud Logging, Loki) parse the JSON, so the fields can be queried directly, e.g.
``{namespace="serving"} | json | model="chat_llm" | prompt_chars > 8000``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

REQUIRED = ("ts", "level", "logger", "msg", "model", "tenant", "prompt_chars", "request_id")
"""Fields every request log line carries."""
OPTIONAL = ("deployment", "prompt_tokens", "latency_ms", "outcome", "error", "route")
"""Fields a line may carry; ``outcome`` is ``ok``, ``error`` or ``rejected``."""

_RECORD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """``logging`` formatter for the format above: pass fields with ``extra={...}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


def problems(line: str) -> list[str]:
    """What is wrong with one request log line (empty when it follows the format)."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    found = [f"missing field {f!r}" for f in REQUIRED if f not in doc]
    if "prompt_chars" in doc and not (
        isinstance(doc["prompt_chars"], int) and doc["prompt_chars"] >= 0
    ):
        found.append(f"prompt_chars must be a non-negative integer (got {doc['prompt_chars']!r})")
    for text_field in ("prompt", "text", "input", "text_input"):
        if text_field in doc:
            found.append(f"field {text_field!r} looks like prompt text; log only its length")
    return found
