"""How a stack's VPC range is split into subnets: one answer for the config rules and the
AWS network component.

Private subnets take the first /19s of the range (pods on EKS use VPC addresses, so
they need room); public subnets take /24s from the top. A range smaller than a /18,
or one that cannot hold a pair per zone, is refused by the config rules before the
component would be asked to build it.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network
from typing import Final

PRIVATE_PREFIX: Final = 19
PUBLIC_PREFIX: Final = 24
LARGEST_PREFIX: Final = 18
"""The smallest VPC range the layout fits in (a /18 or larger)."""
MAX_ZONES: Final = 8


def subnet_problems(cidr: str, zones: Sequence[str]) -> list[str]:
    """Why ``cidr`` cannot hold the layout for ``zones`` (empty when it can)."""
    try:
        net = IPv4Network(cidr)
    except ValueError as exc:
        return [f"{cidr!r} is not an IPv4 network in CIDR form ({exc})"]
    if net.prefixlen > LARGEST_PREFIX:
        return [f"VPC range {cidr} is too small; use a /{LARGEST_PREFIX} or larger"]
    private = 2 ** (PRIVATE_PREFIX - net.prefixlen)
    if len(zones) > min(private - 1, MAX_ZONES):
        return [f"VPC range {cidr} cannot hold subnets for {len(zones)} zones"]
    return []


def plan_subnets(cidr: str, zones: Sequence[str]) -> tuple[list[str], list[str]]:
    """Private and public subnet ranges, one of each per zone, deterministic.

    Raises ValueError with :func:`subnet_problems`' reason when the range cannot hold them.
    """
    problems = subnet_problems(cidr, zones)
    if problems:
        raise ValueError(problems[0])
    net = IPv4Network(cidr)
    private = list(net.subnets(new_prefix=PRIVATE_PREFIX))
    public = list(net.subnets(new_prefix=PUBLIC_PREFIX))
    return [str(private[i]) for i in range(len(zones))], [
        str(public[-(i + 1)]) for i in range(len(zones))
    ]


_SELF_LINK = "https://www.googleapis.com/compute/v1/"


def _ref_parts(ref: str) -> list[str]:
    return ref.removeprefix(_SELF_LINK).split("/")


def gcp_network_id(ref: str, project: str) -> str:
    """``projects/<p>/global/networks/<name>`` for a network given by name (in ``project``),
    by that path, or by its self link: the form GKE, Vertex AI and Private Service Connect
    all accept."""
    parts = _ref_parts(ref)
    if len(parts) == 1:
        return f"projects/{project}/global/networks/{parts[0]}"
    return "/".join(parts)


def gcp_network_project(ref: str, project: str) -> str:
    """The project a network lives in: its own for a path or self link (a Shared VPC host
    project), else ``project``."""
    parts = _ref_parts(ref)
    return parts[1] if len(parts) > 1 else project


def gcp_subnetwork_id(ref: str, network_project: str, region: str) -> str:
    """``projects/<p>/regions/<r>/subnetworks/<name>``; a bare name lives in the network's
    project and the stack's region."""
    parts = _ref_parts(ref)
    if len(parts) == 1:
        return f"projects/{network_project}/regions/{region}/subnetworks/{parts[0]}"
    return "/".join(parts)


def gcp_ref_name(ref: str) -> str:
    """The last part of a network or subnetwork reference: its name."""
    return _ref_parts(ref)[-1]
