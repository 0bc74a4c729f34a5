"""Containers against the images they run: what the kubelet checks when it starts them.

``image-user``: for every container of every workload (Deployment, StatefulSet, DaemonSet,
Job, CronJob, Pod; init containers included) whose image has facts in
``derived/images.yaml`` (the Dockerfile's final ``USER`` and ``ENTRYPOINT``):

- ``runAsNonRoot: true`` (container, else pod) with no ``runAsUser`` and an image that runs
  as root (no ``USER``, ``USER root`` or ``USER 0``): the kubelet refuses to start it
  ("container has runAsNonRoot and image will run as root");
- the same with a non-numeric ``USER`` (``nobody``): the kubelet cannot verify it is not
  root and refuses too ("image has non-numeric user");
- ``runAsNonRoot: true`` with ``runAsUser: 0``: refused whatever the image;
- a ``command`` (which replaces the image's ``ENTRYPOINT``) on an image built ``FROM
  scratch`` that names another program than the entrypoint: such an image holds no shell
  and no tools, so the container cannot start.

Containers whose image has no facts are counted (:func:`image_coverage`), not guessed at.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tools.conformance import upstream
from tools.conformance.base import Check, Finding, MissingFacts
from tools.conformance.plans import kubernetes_objects, manifest
from tools.preview.recorder import Plan

POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
ROOT_USERS = frozenset({"root", "0", "0:0", "root:root"})


@dataclass(frozen=True)
class ImageFacts:
    image: str
    tag: str
    user: str | None
    base: str
    entrypoint: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str
    digest: str


def parse_image(image: str) -> ImageRef:
    """``registry/repo:tag@sha256:...`` into its parts (tag '' when only a digest)."""
    rest, _, digest = image.partition("@")
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = rest.rsplit(":", 1)
    else:
        repository, tag = rest, ""
    return ImageRef(repository, tag, digest)


@cache
def _image_facts(facts: Path) -> dict[str, list[ImageFacts]]:
    path = facts / "derived" / "images.yaml"
    if not path.is_file():
        raise MissingFacts(facts, "derived/images.yaml (image USER and entrypoint) is missing")
    doc = upstream.load_yaml(path) or {}
    out: dict[str, list[ImageFacts]] = {}
    for entry in doc.get("images") or ():
        f = entry.get("facts") or {}
        out.setdefault(entry["image"], []).append(
            ImageFacts(
                image=entry["image"],
                tag=str(entry["tag"]),
                user=None if f.get("user") is None else str(f["user"]),
                base=str(f.get("base") or ""),
                entrypoint=tuple(f.get("entrypoint") or ()),
                source=f"{entry.get('repo')}@{entry.get('ref')}:{entry.get('path')}",
            )
        )
    return out


def image_facts(facts: Path, image: str) -> tuple[ImageFacts | None, str | None]:
    """The facts of ``image``, or why there are none that apply."""
    ref = parse_image(image)
    known = _image_facts(facts).get(ref.repository)
    if not known:
        return None, None
    for f in known:
        if f.tag == ref.tag:
            return f, None
    tags = ", ".join(sorted(f.tag for f in known))
    return None, f"derived/images.yaml has facts of {ref.repository} at {tags}, not {ref.tag!r}"


def containers(
    obj: Mapping[str, Any],
) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """``(path, pod spec, container)`` for every container and init container."""
    path = POD_SPEC_PATHS.get(str(obj.get("kind")))
    if path is None:
        return
    node: Any = obj
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return
    prefix = ".".join(path)
    for field in ("initContainers", "containers"):
        for i, container in enumerate(node.get(field) or ()):
            yield f"{prefix}.{field}[{i}]", node, container


def _effective(pod: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    own = (container.get("securityContext") or {}).get(key)
    return own if own is not None else (pod.get("securityContext") or {}).get(key)


def container_problems(
    pod: Mapping[str, Any], container: Mapping[str, Any], image: ImageFacts | None
) -> list[tuple[str, str, Any]]:
    """``(sub-path, message, value)`` for each reason the kubelet would not start it."""
    out: list[tuple[str, str, Any]] = []
    non_root = _effective(pod, container, "runAsNonRoot") is True
    run_as = _effective(pod, container, "runAsUser")
    if non_root and run_as is not None and int(run_as) == 0:
        out.append(
            (
                "securityContext.runAsUser",
                "runAsNonRoot is true and runAsUser is 0: the kubelet refuses to start it",
                run_as,
            )
        )
    if image is None:
        return out
    if non_root and run_as is None:
        if image.user is None or image.user in ROOT_USERS:
            out.append(
                (
                    "securityContext.runAsNonRoot",
                    f"runAsNonRoot is true, no runAsUser is set and {image.image}:{image.tag} "
                    f"runs as root ({'no USER' if image.user is None else 'USER ' + image.user} "
                    f'in {image.source}): the kubelet refuses to start it ("container has '
                    'runAsNonRoot and image will run as root")',
                    True,
                )
            )
        elif not image.user.split(":", 1)[0].isdigit():
            out.append(
                (
                    "securityContext.runAsNonRoot",
                    f"runAsNonRoot is true, no runAsUser is set and {image.image}:{image.tag} "
                    f"has a non-numeric USER {image.user!r} ({image.source}): the kubelet "
                    "cannot verify it is not root and refuses to start it",
                    True,
                )
            )
    command = list(container.get("command") or ())
    if command and image.base == "scratch":
        program = str(command[0])
        known = image.entrypoint[0] if image.entrypoint else None
        if known is None or program.rsplit("/", 1)[-1] != known.rsplit("/", 1)[-1]:
            out.append(
                (
                    "command",
                    f"{image.image}:{image.tag} is built FROM scratch with ENTRYPOINT "
                    f"{list(image.entrypoint)} ({image.source}): it holds no {program!r} to run",
                    command,
                )
            )
    return out


class _ImageCheck:
    name = "image-user"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings: list[Finding] = []
        for _, plan in sorted(plans.items()):
            for resource in kubernetes_objects(plan):
                obj = manifest(resource)
                for path, pod, container in containers(obj):
                    image, why = image_facts(facts, str(container.get("image", "")))
                    if why:
                        findings.append(
                            Finding.at(plan, resource, f"{path}.image", why, not_evaluated=True)
                        )
                    for sub, message, value in container_problems(pod, container, image):
                        findings.append(
                            Finding.at(plan, resource, f"{path}.{sub}", message, value=value)
                        )
        return findings


def image_coverage(plans: Mapping[str, Plan], facts: Path) -> dict[str, tuple[int, int]]:
    """Per stack: (containers whose image has facts, containers)."""
    out = {}
    for stack, plan in plans.items():
        known = total = 0
        for resource in kubernetes_objects(plan):
            for _, _, container in containers(manifest(resource)):
                total += 1
                known += image_facts(facts, str(container.get("image", "")))[0] is not None
        out[stack] = (known, total)
    return out


def checks() -> list[Check]:
    return [_ImageCheck()]
