"""ObjectMeta as the API server validates it, which no JSON schema expresses.

The official JSON schemas type ``metadata.labels`` as "a map of strings" and a name as a
string; the API server also checks their syntax (apimachinery ``validation``): names are
DNS-1123 subdomains (Namespaces, Services: DNS-1123 labels), label keys qualified names
with an optional DNS prefix, label values at most 63 characters of ``[A-Za-z0-9_.-]``
beginning and ending alphanumeric, annotations at most 256 KiB in all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAMED = frozenset({"Namespace", "Service"})
"""Kinds whose names are DNS-1123 labels (63 characters, no dots)."""
TOTAL_ANNOTATION_BYTES = 256 * 1024


def _name_problem(name: str, label: bool) -> str | None:
    limit, pattern = (63, DNS_LABEL) if label else (253, DNS_SUBDOMAIN)
    kind = "DNS-1123 label" if label else "DNS-1123 subdomain"
    if len(name) > limit:
        return f"must be a {kind} of at most {limit} characters"
    if not pattern.match(name):
        return f"must be a {kind}: lower-case alphanumerics and '-'" + ("" if label else " or '.'")
    return None


def _key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return "key prefix must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not QUALIFIED_NAME.match(name):
        return (
            "key must be a qualified name: at most 63 characters of [A-Za-z0-9_.-], "
            "alphanumeric at both ends"
        )
    return None


def problems(obj: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """``(path, message, value)`` for each metadata problem of ``obj``."""
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind", ""))
    name = meta.get("name")
    if isinstance(name, str):
        problem = _name_problem(name, kind in LABEL_NAMED)
        if problem:
            yield "metadata.name", problem, name
    namespace = meta.get("namespace")
    if isinstance(namespace, str):
        problem = _name_problem(namespace, True)
        if problem:
            yield "metadata.namespace", problem, namespace
    for key, value in (meta.get("labels") or {}).items():
        problem = _key_problem(str(key))
        if problem:
            yield f"metadata.labels.{key}", problem, key
        if not isinstance(value, str):
            yield f"metadata.labels.{key}", "label values must be strings", value
        elif len(value) > 63 or not LABEL_VALUE.match(value):
            yield (
                f"metadata.labels.{key}",
                "label value must be at most 63 characters of [A-Za-z0-9_.-], "
                "alphanumeric at both ends",
                value,
            )
    annotations = meta.get("annotations") or {}
    for key in annotations:
        problem = _key_problem(str(key))
        if problem:
            yield f"metadata.annotations.{key}", problem, key
    size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_BYTES:
        yield "metadata.annotations", "annotations exceed 256 KiB in all", size
