"""Configuration errors that name the file, the line, the key, the bad value and the fix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from blueprint import diagnostics
from blueprint.schema import NAMESPACE

_NO_VALUE: Any = diagnostics.NO_VALUE

PathPart = str | int


@dataclass(frozen=True)
class ConfigIssue:
    """One problem with a stack's configuration.

    ``path`` starts at the section (``("gpuPools", "heavy", "nodes", "max")``), with
    keys spelled as in the stack file. ``message`` says what is wrong and what would
    be accepted; ``value`` is the bad value when there is one.
    """

    path: tuple[PathPart, ...]
    message: str
    value: Any = field(default=_NO_VALUE, compare=False)
    full_key: str | None = None
    """A key outside the blueprint's namespace (``aws:region``), named as written."""

    @property
    def key(self) -> str:
        """The dotted key as a user types it for ``pulumi config set --path``."""
        if self.full_key is not None:
            return self.full_key
        if not self.path:
            return "file"  # the file itself: its bytes, its YAML, its top-level shape
        out = f"{NAMESPACE}:{self.path[0]}"
        for part in self.path[1:]:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out

    def render(self, source: str, line: int | None) -> str:
        return diagnostics.render(source, line, self.key, self.message, value=self.value)


class ConfigError(Exception):
    """A stack's configuration is invalid; nothing may be registered.

    ``str()`` lists every issue, one per line, most specific location first.
    """

    def __init__(
        self,
        source: str,
        issues: Sequence[ConfigIssue],
        line_of: Callable[[tuple[PathPart, ...]], int | None] | None = None,
        note: str | None = None,
    ) -> None:
        self.source = source
        self.note = note
        self.issues = list(issues)
        self._line_of = line_of or (lambda _path: None)
        super().__init__(self.render())

    def lines(self) -> list[str]:
        keyed = [
            (self._line_of((i.full_key,) if i.full_key else i.path) or 0, i) for i in self.issues
        ]
        keyed.sort(key=lambda pair: (pair[0], pair[1].key))
        return [issue.render(self.source, line or None) for line, issue in keyed]

    def render(self) -> str:
        n = len(self.issues)
        head = (
            f"{self.source}: {n} configuration error{'s' if n != 1 else ''}; nothing was created:"
        )
        tail = [f"  ({self.note})"] if self.note else []
        return "\n".join([head, *(f"  {line}" for line in self.lines()), *tail])
