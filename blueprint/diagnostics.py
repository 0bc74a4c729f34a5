"""The one format of every user-facing diagnostic: ``file:line: key: message (got value)``.

Stack config errors, model config findings and policy config errors all render
through :func:`render`, so a reader (or an editor's problem matcher) sees one shape:

    stacks/Pulumi.prod.yaml:41: llm-inference:gpuPools.heavy.nodes.max: must be <= 1000 (got 5000)
    model_repo/chat_llm/config.pbtxt:4: name: must equal the folder name (got 'x'); fix: ...

``line`` is left out when unknown; ``(got value)`` when there is no bad value to show;
``; fix: ...`` when the message does not already say what to do.
"""

from __future__ import annotations

import re
from typing import Any, Final

NO_VALUE: Final[Any] = object()
"""Marks a diagnostic without a bad value (a missing key, say)."""

MAX_SHOWN: Final = 80
"""Longest rendering of a bad container value before it is cut."""

PATTERN: Final = re.compile(
    r"^(?P<file>[^:\n]+?)(?::(?P<line>\d+))?: (?P<key>[^:\n]+(?::[^:\n ]+)?): (?P<message>.+)$"
)
"""What a rendered diagnostic matches (for tests and problem matchers)."""


def show(value: Any) -> str:
    """A bad value as the user wrote it: repr, containers cut at :data:`MAX_SHOWN`."""
    text = repr(value)
    if isinstance(value, dict | list | tuple | set) and len(text) > MAX_SHOWN:
        return text[: MAX_SHOWN - 3] + "..."
    return text


def where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line else source


def render(
    source: str,
    line: int | None,
    key: str,
    message: str,
    *,
    value: Any = NO_VALUE,
    fix: str | None = None,
) -> str:
    """One diagnostic line."""
    text = f"{where(source, line)}: {key}: {message}"
    if value is not NO_VALUE:
        text += f" (got {show(value)})"
    if fix:
        text += f"; fix: {fix}"
    return text
