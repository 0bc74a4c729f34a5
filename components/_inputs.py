"""Input checks of the components: every bad input reported at once, with its property path.

A component collects what it cannot build from its args and raises one
``pulumi.InputPropertiesError`` listing all of them (what pulumi-eks does), so a
user calling a component directly sees every mistake in one run, not the first
``ValueError``. The stack config rules refuse the same mistakes earlier, with the
stack file's line; these checks are the component's own contract.
"""

from __future__ import annotations

from typing import Any

import pulumi


class InputErrors:
    """Problems with one component's args, raised together by :meth:`raise_if_any`."""

    def __init__(self, component_type: str, name: str) -> None:
        self.component_type = component_type
        self.name = name
        self.errors: list[pulumi.InputPropertyErrorDetails] = []

    def check(self, ok: bool, property_path: str, reason: str) -> None:
        if not ok:
            self.add(property_path, reason)

    def add(self, property_path: str, reason: str) -> None:
        self.errors.append(
            pulumi.InputPropertyErrorDetails(property_path=property_path, reason=reason)
        )

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        lines = [f"  {e['property_path']}: {e['reason']}" for e in self.errors]
        n = len(self.errors)
        raise pulumi.InputPropertiesError(
            f"{self.component_type} {self.name}: {n} invalid input{'s' if n != 1 else ''}:\n"
            + "\n".join(lines),
            errors=list(self.errors),
        )


def invoke_field(value: Any, name: str) -> Any:
    """A field of a nested invoke result (``get_cluster(...).vpc_config``): pulumi 3.272
    translates the keys of nested results but may hand them back as plain dicts rather than
    their output types, so read both."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


KUBELET_MAX_LAG = 3
"""Minor versions a kubelet may trail the API server by (Kubernetes skew policy, 1.28+)."""


def node_skew_problem(control_plane: str | None, nodes: str) -> str | None:
    """Why nodes of Kubernetes ``nodes`` (``1.33``) cannot join a control plane reporting
    ``control_plane`` (``1.33``, ``1.33.5-gke.1200``, ``v1.33.2-eks-...``); None when they
    can, or when the control plane's version is not known."""
    if not control_plane:
        return None
    try:
        cp = int(control_plane.lstrip("v").split(".")[1].split("-")[0])
        node = int(nodes.split(".")[1])
    except (IndexError, ValueError):
        return None
    if node > cp:
        return (
            f"nodes of Kubernetes {nodes} would be newer than the control plane "
            f"({control_plane}); upgrade the control plane first or lower kubernetesVersion"
        )
    if cp - node > KUBELET_MAX_LAG:
        return (
            f"nodes of Kubernetes {nodes} would trail the control plane ({control_plane}) by "
            f"more than {KUBELET_MAX_LAG} minor versions; raise kubernetesVersion"
        )
    return None
