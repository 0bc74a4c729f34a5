"""Reading user YAML strictly and boundedly: what a stack file may contain, and no more.

PyYAML's ``safe_load`` accepts things a stack file never means: a duplicated key
(the last one silently wins), ``!!set`` and other non-JSON tags, alias chains that
expand to gigabytes (a 528-byte "billion laughs" file took 18 s and 1.5 GB), nesting
deep enough to exhaust the recursion limit, and bytes that are not UTF-8. Each is
refused here with the line and a message, before any value is used.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

MAX_NODES: Final = 100_000
"""Nodes a document may expand to, aliases counted at every use (the stack files have
about 1,500)."""
MAX_DEPTH: Final = 64
"""Nesting depth of mappings and sequences (the stack files reach about 8)."""
MAX_BYTES: Final = 2 * 1024 * 1024

_PLAIN_TAGS: Final = frozenset(
    {
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:seq",
        "tag:yaml.org,2002:map",
    }
)


class YamlRefused(Exception):
    """The YAML text is refused: ``line`` (1-based, or None) and a message."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


def decode(data: bytes) -> str:
    """The text of a file that must be UTF-8 (a BOM is accepted)."""
    if len(data) > MAX_BYTES:
        raise YamlRefused(f"is {len(data):,} bytes; a stack file is at most {MAX_BYTES:,}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlRefused(
            f"is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be "
            "decoded; save the file as UTF-8",
            line,
        ) from None


def load(text: str) -> Any:
    """Parse one YAML document of plain data (maps, lists, strings, numbers, booleans)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise YamlRefused(f"is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlRefused(f"not valid YAML: {problem}", mark.line + 1 if mark else None) from None
    if root is None:
        return None
    _check(root)
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _check(root: yaml.Node) -> None:
    """Walk the composed node graph: tags, duplicate keys, depth, expanded size."""
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        line = node.start_mark.line + 1
        if count > MAX_NODES:
            raise YamlRefused(
                f"expands to more than {MAX_NODES:,} values (aliases counted at each use): "
                "refused, as an alias bomb would be",
                line,
            )
        if depth > MAX_DEPTH:
            raise YamlRefused(f"is nested too deeply (more than {MAX_DEPTH} levels)", line)
        if node.tag not in _PLAIN_TAGS:
            raise YamlRefused(
                f"uses the tag {node.tag!r}; a stack file holds plain maps, lists, strings, "
                "numbers and booleans",
                line,
            )
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    raise YamlRefused("uses a merge key (<<); write the keys out", line)
                if isinstance(key, yaml.ScalarNode):
                    k_line = key.start_mark.line + 1
                    if key.value in seen:
                        raise YamlRefused(
                            f"the key {key.value!r} appears twice in one mapping (lines "
                            f"{seen[key.value]} and {k_line}); YAML would keep only the last",
                            k_line,
                        )
                    seen[key.value] = k_line
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
