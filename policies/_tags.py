"""Cost-allocation tags as the cloud will apply them: provider default tags plus the
resource's own.

A resource takes tags (AWS) or labels (GCP) when its provider SDK says so: AWS
resources that support the provider's ``defaultTags`` have a ``tags_all`` output,
GCP resources that support ``defaultLabels`` a ``pulumi_labels`` output. The
policies ask the installed SDK, so a resource type that cannot carry tags (a
route-table association) is never held to a tag rule it cannot meet.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from policies._lib import get, json_doc, mapping


@cache
def tag_field(resource_type: str) -> str | None:
    """The input that carries a resource's tags or labels, or None if it takes none."""
    try:
        package, module_path, cls_name = resource_type.split(":")
    except ValueError:
        return None
    if package not in {"aws", "gcp"}:
        return None
    module = module_path.split("/")[0]
    sdk = f"pulumi_{package}"
    try:
        mod = importlib.import_module(sdk if module == "index" else f"{sdk}.{module}")
        cls = getattr(mod, cls_name)
    except (ImportError, AttributeError):
        return None
    if package == "aws":
        return "tags" if hasattr(cls, "tags_all") else None
    if not hasattr(cls, "pulumi_labels"):
        return None
    return "labels" if hasattr(cls, "labels") else "resourceLabels"


def provider_defaults(provider: Any) -> dict[str, str]:
    """Default tags (AWS ``defaultTags.tags``) or labels (GCP ``defaultLabels``) of a provider.

    Provider inputs reach policies as JSON text for structured values, or as
    mappings; both are read.
    """
    if provider is None:
        return {}
    props = getattr(provider, "props", None) or {}
    if str(getattr(provider, "resource_type", "")).endswith(":aws"):
        doc = json_doc(get(props, "defaultTags"))
        return {str(k): str(v) for k, v in mapping(get(doc, "tags")).items()}
    if str(getattr(provider, "resource_type", "")).endswith(":gcp"):
        doc = json_doc(get(props, "defaultLabels"))
        return {str(k): str(v) for k, v in mapping(doc).items()}
    return {}


def effective_tags(
    resource_type: str, props: Mapping[str, Any], provider: Any
) -> dict[str, str] | None:
    """The tags the cloud will hold for this resource, or None if it takes none."""
    field = tag_field(resource_type)
    if field is None:
        return None
    own = json_doc(get(props, field)) or {}
    return {**provider_defaults(provider), **{str(k): str(v) for k, v in mapping(own).items()}}
