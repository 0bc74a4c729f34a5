"""What secret material looks like: key names that hold it, and credential shapes.

One definition for every place that must recognise a secret: the offline preview
masks stack outputs with it (``tools/preview/outputs.py``) and the policy pack refuses
secret literals in resource inputs with it (``policies/secret_literals.py``).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

MASK = "[secret]"
"""What a plan and the preview show in place of a value Pulumi marked secret."""

_SECRET_KEY = re.compile(
    r"password|passwd|passphrase|secret|token(?!s)|credential|kubeconfig|connectionstring"
    r"|(private|api|access|client|signing|ssh|tls|auth|master|encryption|routing|service"
    r"|integration)key|webhookurl"
)
"""Key names (lower-cased, separators removed) that hold secret material. ``tokens``
is left out: in an LLM platform it counts text (``maxTokens``, ``tokensPerSecond``)."""
_REFERENCE = re.compile(r"(arn|id|ids|name|names)$")
"""...unless they only name it: ``secretArn``, ``accessKeyId``, ``tokenName``."""
_PEM_PRIVATE = "PRIVATE KEY-----"
_B64_PEM = "LS0tLS1CRUdJT"  # base64 of "-----BEGIN"


def secret_key(key: str) -> bool:
    """Whether a key (of an output, an input, a map inside one) names secret material."""
    flat = re.sub(r"[^a-z0-9]", "", key.lower())
    return bool(_SECRET_KEY.search(flat)) and not _REFERENCE.search(flat)


def pem_private_key(value: Any) -> bool:
    """A PEM private key, as text or base64 (kubeconfig and Secret data carry them so)."""
    if not isinstance(value, str):
        return False
    if _PEM_PRIVATE in value:
        return True
    if value.startswith(_B64_PEM):
        try:
            return _PEM_PRIVATE in base64.b64decode(value, validate=False).decode(errors="ignore")
        except (binascii.Error, ValueError):
            return False
    return False


CREDENTIAL_SHAPES: dict[str, re.Pattern[str]] = {
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a Slack webhook URL": re.compile(
        r"https://hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/_-]{8,}"
    ),
    # Events API v2 routing keys and v1 service keys are 32 characters; they are only
    # recognisable next to their field name (a config file written into a string).
    "a PagerDuty routing key": re.compile(
        r"(routing|service|integration)_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9+_-]{32}\b",
        re.IGNORECASE,
    ),
    "a PEM private key": re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
}
"""Credentials recognisable by their shape alone, by what they are."""


def credential_shapes(text: str) -> list[str]:
    """What credentials ``text`` contains, by :data:`CREDENTIAL_SHAPES` name (none: [])."""
    found = [what for what, shape in CREDENTIAL_SHAPES.items() if shape.search(text)]
    if "a PEM private key" not in found and pem_private_key(text):
        found.append("a PEM private key")
    return found
