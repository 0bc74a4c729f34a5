"""The platform's structured log format: one JSON object per line, with model, tenant and
prompt length on every request log.

Where the platform writes logs about requests (Triton's Python models, the local tools),
each line is a JSON object with at least :data:`REQUIRED`;
prompt *text* is never logged, only its length. :class:`JsonFormatter` writes the
format from Python's ``logging``; :func:`problems` checks a line (tests of any
component that writes these logs can use it). Cluster log pipelines (CloudWatch Logs,
Cloud Logging, Loki) parse the JSON, so the fields can be queried directly, e.g.
``{namespace="serving"} | json | model="chat_llm" | prompt_chars > 8000``. The routing
gateway (Envoy) writes the same shape through its access log
(:func:`gateway_access_log`), with the body size in bytes instead of characters.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TENANT_HEADER = "x-tenant"
"""The request header that names the calling tenant: the cost-attribution key. The gateway
removes a value the caller sends and sets it from the authenticated identity only (an API
key's client id, or the JWT tenant claim): components/k8s/routing.py."""
MODEL_HEADER = "x-model"
"""The request header that names the model, when the caller knows it."""
REQUEST_ID_HEADER = "x-request-id"

REQUIRED = ("ts", "level", "logger", "msg", "model", "tenant", "prompt_chars", "request_id")
"""Fields every request log line carries."""

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


def gateway_access_log(class_header: str) -> dict[str, Any]:
    """Envoy Gateway ``EnvoyProxy.spec.telemetry.accessLog``: the gateway's request log in
    the same JSON shape, one line per request on the proxy's stdout.

    The gateway does not parse bodies, so the prompt's length is ``prompt_bytes`` (the
    request body's size, ``%BYTES_RECEIVED%``), not characters; ``route`` is the request
    class it routed on; ``model`` comes from :data:`MODEL_HEADER` when callers send it,
    ``tenant`` from :data:`TENANT_HEADER` as the gateway's auth set it (``-`` otherwise).
    """
    fields = {
        "ts": "%START_TIME%",
        "level": "info",
        "logger": "gateway",
        "msg": "request",
        "request_id": f"%REQ({REQUEST_ID_HEADER.upper()})%",
        "route": f"%REQ({class_header.upper()})%",
        "model": f"%REQ({MODEL_HEADER.upper()})%",
        "tenant": f"%REQ({TENANT_HEADER.upper()})%",
        "prompt_bytes": "%BYTES_RECEIVED%",
        "status": "%RESPONSE_CODE%",
        "latency_ms": "%DURATION%",
        "upstream": "%UPSTREAM_HOST%",
        "outcome": "%RESPONSE_FLAGS%",
    }
    return {
        "settings": [
            {
                "format": {"type": "JSON", "json": fields},
                "sinks": [{"type": "File", "file": {"path": "/dev/stdout"}}],
            }
        ]
    }
