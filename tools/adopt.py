"""Write a ``pulumi import --file`` document from a recorded plan: adopt what a team has.

``python -m tools.adopt STACK --ids IDS.yaml [--plan PLAN.json] [--out FILE]``

A team that already runs some of what a stack declares (a VPC, a cluster, a bucket)
brings it under the stack's management with ``pulumi import`` instead of creating a
second one. The import document must name each resource exactly as the program does
(type, name, parent chain), or the next ``pulumi up`` replaces what was imported. This
command takes those from the stack's recorded plan (``make preview STACK=…``) and the
cloud IDs from a small YAML file the team writes::

    # ids.yaml: plan resource name (or "<type>::<name>" when a name is shared) -> cloud ID
    prod-network-vpc: vpc-0a1b2c3d4e5f67890
    aws:eks/cluster:Cluster::prod-core-aws-eks: prod-core-aws-eks

It writes the document ``pulumi import --file`` reads (``nameTable`` and ``resources``;
components on the parent chain as ``component: true`` entries, so imported resources
land under the same components the program creates) and prints the commands to run.
Explicit providers must be in the stack's state first; the printed steps create them.

To use an existing VPC, network or cluster *without* the stack managing it, set
``aws.existingVpc``, ``gcp.existingNetwork`` or ``clusters.<name>.existing`` instead: the
stack then reads it and creates nothing of it (README, "Adopting what a team already has").

Exit 2 for a user mistake (no plan, unknown or ambiguous name, an ID of the wrong shape
for its type), naming the file, the key and what is accepted.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blueprint import diagnostics
from blueprint.config import yamlsafe
from blueprint.paths import BUILD_DIR, display_path

EXIT_USAGE = 2
ROOT_TYPE = "pulumi:pulumi:Stack"

# The ID each type is imported by, where its shape is fixed (the "Import" section of
# the resource's page in the Pulumi Registry). Other types take the ID as written.
ID_SHAPES: dict[str, tuple[str, str]] = {
    "aws:ec2/vpc:Vpc": (r"vpc-[0-9a-f]{8,17}", "vpc-0a1b2c3d4e5f67890"),
    "aws:ec2/subnet:Subnet": (r"subnet-[0-9a-f]{8,17}", "subnet-0a1b2c3d4e5f67890"),
    "aws:ec2/securityGroup:SecurityGroup": (r"sg-[0-9a-f]{8,17}", "sg-0a1b2c3d4e5f67890"),
    "aws:ec2/internetGateway:InternetGateway": (r"igw-[0-9a-f]{8,17}", "igw-0a1b2c3d"),
    "aws:ec2/natGateway:NatGateway": (r"nat-[0-9a-f]{8,17}", "nat-0a1b2c3d4e5f67890"),
    "aws:ec2/routeTable:RouteTable": (r"rtb-[0-9a-f]{8,17}", "rtb-0a1b2c3d"),
    "aws:ec2/eip:Eip": (r"eipalloc-[0-9a-f]{8,17}", "eipalloc-0a1b2c3d"),
    "aws:eks/cluster:Cluster": (r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}", "the cluster's name"),
    "aws:kms/key:Key": (
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "the key ID, 1234abcd-12ab-34cd-56ef-1234567890ab",
    ),
    "aws:s3/bucket:Bucket": (r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "the bucket's name"),
    "aws:s3/bucketV2:BucketV2": (r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "the bucket's name"),
    "gcp:container/cluster:Cluster": (
        r"projects/[^/]+/locations/[^/]+/clusters/[^/]+",
        "projects/{project}/locations/{location}/clusters/{name}",
    ),
    "gcp:compute/network:Network": (
        r"projects/[^/]+/global/networks/[^/]+",
        "projects/{project}/global/networks/{name}",
    ),
    "gcp:compute/subnetwork:Subnetwork": (
        r"projects/[^/]+/regions/[^/]+/subnetworks/[^/]+",
        "projects/{project}/regions/{region}/subnetworks/{name}",
    ),
    "gcp:storage/bucket:Bucket": (r"[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]", "the bucket's name"),
}


class AdoptError(Exception):
    """A user mistake: the message names the file, the key and what is accepted."""


@dataclass(frozen=True)
class Entry:
    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    custom: bool


def real_urn(urn: str) -> str:
    """The URN the Pulumi engine gives a resource (the offline recorder prefixes the
    stack's type to its children's qualified types; the engine does not)."""
    head, sep, rest = urn.partition(f"::{ROOT_TYPE}$")
    return f"{head}::{rest}" if sep else urn


def read_plan(path: Path) -> list[Entry]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AdoptError(
            f"{display_path(path)}: no recorded plan; run `make preview STACK=<stack>` first"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdoptError(f"{display_path(path)}: not a recorded plan ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resources"), list):
        raise AdoptError(f"{display_path(path)}: not a recorded plan (no 'resources' list)")
    return [
        Entry(
            urn=str(r["urn"]),
            type=str(r["type"]),
            name=str(r["name"]),
            parent=r.get("parent"),
            provider=r.get("provider"),
            custom=bool(r.get("custom", True)),
        )
        for r in doc["resources"]
    ]


def read_ids(path: Path) -> dict[str, str]:
    shown = display_path(path)
    try:
        doc = yamlsafe.load(yamlsafe.decode(path.read_bytes()))
    except FileNotFoundError:
        raise AdoptError(f"{shown}: no such file") from None
    except yamlsafe.YamlRefused as exc:
        raise AdoptError(diagnostics.render(shown, exc.line, "file", exc.message)) from None
    if not isinstance(doc, dict) or not doc:
        raise AdoptError(
            f"{shown}: must map plan resource names (or '<type>::<name>') to cloud IDs"
        )
    bad = {str(k): v for k, v in doc.items() if not isinstance(v, str) or not v.strip()}
    if bad:
        key, value = next(iter(bad.items()))
        raise AdoptError(
            diagnostics.render(shown, None, key, "must be the cloud ID, as text", value=value)
        )
    return {str(k): str(v).strip() for k, v in doc.items()}


def _resolve(key: str, entries: Sequence[Entry], ids_file: str) -> Entry:
    kind, sep, name = key.rpartition("::")
    found = [e for e in entries if e.name == name and (not sep or e.type == kind)]
    if sep and kind.startswith("urn:"):
        found = [e for e in entries if real_urn(e.urn) == key or e.urn == key]
    if len(found) == 1:
        return found[0]
    if not found:
        close = difflib.get_close_matches(name, sorted({e.name for e in entries}), n=3)
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise AdoptError(
            diagnostics.render(ids_file, None, key, f"is no resource of the plan{hint}")
        )
    options = ", ".join(f"{e.type}::{e.name}" for e in found)
    raise AdoptError(
        diagnostics.render(
            ids_file, None, key, f"names {len(found)} resources; write one of: {options}"
        )
    )


def _check_id(entry: Entry, key: str, cloud_id: str, ids_file: str) -> None:
    if not entry.custom:
        raise AdoptError(
            diagnostics.render(
                ids_file,
                None,
                key,
                f"is a component ({entry.type}), which has no cloud ID; "
                "list the resources inside it instead",
            )
        )
    if entry.type.startswith("pulumi:providers:"):
        raise AdoptError(
            diagnostics.render(ids_file, None, key, "is a provider: providers are not imported")
        )
    shape = ID_SHAPES.get(entry.type)
    if shape and not re.fullmatch(shape[0], cloud_id):
        raise AdoptError(
            diagnostics.render(
                ids_file,
                None,
                key,
                f"is not an import ID of {entry.type}; it is {shape[1]}",
                value=cloud_id,
            )
        )


def _parent_components(chosen: Mapping[str, str], by_urn: Mapping[str, Entry]) -> set[str]:
    """The components on the parent chains of the chosen resources (not the stack)."""
    components: set[str] = set()
    for urn in chosen:
        parent = by_urn[urn].parent
        while parent and parent in by_urn and by_urn[parent].type != ROOT_TYPE:
            if parent not in chosen:
                components.add(parent)
            parent = by_urn[parent].parent
    return components


def import_document(
    entries: Sequence[Entry], ids: Mapping[str, str], ids_file: str
) -> tuple[dict[str, Any], list[str]]:
    """The ``pulumi import --file`` document and the provider URNs it needs in state."""
    by_urn = {e.urn: e for e in entries}
    chosen: dict[str, str] = {}
    for key, cloud_id in ids.items():
        entry = _resolve(key, entries, ids_file)
        _check_id(entry, key, cloud_id, ids_file)
        if entry.urn in chosen:
            raise AdoptError(
                diagnostics.render(ids_file, None, key, "names a resource listed twice")
            )
        chosen[entry.urn] = cloud_id

    # Import names must be unique in the file: a resource's plan name, or its type and
    # name when two resources share a name (a topic and its policy).
    components = _parent_components(chosen, by_urn)
    needed = [by_urn[urn] for urn in chosen] + [by_urn[urn] for urn in components]
    counts: dict[str, int] = {}
    for e in needed:
        counts[e.name] = counts.get(e.name, 0) + 1

    def label(e: Entry) -> str:
        return e.name if counts[e.name] == 1 else f"{e.name}-{e.type.rsplit(':', 1)[-1]}"

    labels = {e.urn: label(e) for e in needed}
    name_table: dict[str, str] = {}
    providers: list[str] = []
    resources: list[dict[str, Any]] = []
    for e in sorted(needed, key=lambda e: (e.urn not in components, e.urn)):
        spec: dict[str, Any] = {"type": e.type, "name": labels[e.urn], "logicalName": e.name}
        if e.urn in components:
            spec["component"] = True
        else:
            spec["id"] = chosen[e.urn]
        if e.parent and e.parent in labels:
            spec["parent"] = labels[e.parent]
        if e.custom and e.provider:
            provider_urn = real_urn(e.provider)
            ref = provider_urn.rsplit("::", 1)[-1]
            key = f"provider-{ref}"
            name_table[key] = provider_urn
            spec["provider"] = key
            if provider_urn not in providers:
                providers.append(provider_urn)
        resources.append(spec)
    return {"nameTable": name_table, "resources": resources}, providers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.adopt",
        description="Write a `pulumi import --file` document from a stack's recorded plan.",
    )
    parser.add_argument("stack", help="the stack whose plan names the resources")
    parser.add_argument("--ids", type=Path, required=True, help="YAML: plan name -> cloud ID")
    parser.add_argument("--plan", type=Path, help="recorded plan (default build/plan/STACK.json)")
    parser.add_argument("--out", type=Path, help="where to write (default build/import-STACK.json)")
    args = parser.parse_args(argv)
    plan = args.plan or BUILD_DIR / "plan" / f"{args.stack}.json"
    out = args.out or BUILD_DIR / f"import-{args.stack}.json"
    try:
        entries = read_plan(plan)
        ids = read_ids(args.ids)
        document, providers = import_document(entries, ids, display_path(args.ids))
    except AdoptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    imported = sum(1 for r in document["resources"] if not r.get("component"))
    print(f"wrote {display_path(out)}: {imported} resources to import from {display_path(plan)}")
    print("next, with the stack selected (pulumi stack select " + args.stack + "):")
    for urn in providers:
        print(f"  pulumi up --target '{urn}'   # the explicit provider, into state first")
    print(f"  pulumi import --file {display_path(out)} --generate-code=false")
    print("  pulumi preview   # expect no replacement of what was imported; then pulumi up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
