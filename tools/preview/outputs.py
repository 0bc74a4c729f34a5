"""Stack outputs as the preview shows them: secrets masked, long values cut.

A value is shown as ``[secret]`` when the program marked it secret
(``pulumi.Output.secret``; the recorder keeps where), when a key on its path
names secret material (password, token, private key, ...), or when it is a PEM
private key, plain or base64. The plan file keeps the values: only the display
is masked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from blueprint.secrets import MASK as MASKED
from blueprint.secrets import pem_private_key as secret_value
from blueprint.secrets import secret_key

__all__ = ["MASKED", "mask", "masked_outputs", "secret_key", "secret_value", "show"]


def mask(value: Any, marked: Iterable[tuple[str, ...]] = (), path: tuple[str, ...] = ()) -> Any:
    """``value`` with every secret part replaced by :data:`MASKED`.

    ``marked`` are the paths Pulumi marked secret, relative to the outputs' root;
    ``path`` is where ``value`` sits.
    """
    marked = set(marked)
    return _mask(value, marked, path)


def _mask(value: Any, marked: set[tuple[str, ...]], path: tuple[str, ...]) -> Any:
    if path in marked or (path and secret_key(path[-1])) or secret_value(value):
        return MASKED
    if isinstance(value, Mapping):
        return {k: _mask(v, marked, (*path, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, marked, (*path, str(i))) for i, v in enumerate(value)]
    return value


_PLACEHOLDER = "\x00secret\x00"


def show(value: Any, limit: int = 160) -> str:
    """A masked value as one line of JSON, ``[secret]`` unquoted, cut at ``limit``."""
    if value == MASKED:
        return MASKED
    text = json.dumps(_placeholders(value), sort_keys=True, ensure_ascii=False)
    text = text.replace(json.dumps(_PLACEHOLDER), MASKED)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _placeholders(value: Any) -> Any:
    if value == MASKED:
        return _PLACEHOLDER
    if isinstance(value, Mapping):
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value


def masked_outputs(
    outputs: Mapping[str, Any], marked: Iterable[tuple[str, ...]] = ()
) -> dict[str, Any]:
    """Every output, masked (keys sorted, as the plan file has them)."""
    masked = mask(dict(outputs), marked)
    return {k: masked[k] for k in sorted(masked)}
