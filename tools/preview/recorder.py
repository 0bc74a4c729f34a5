"""Run the real stack program under Pulumi's mocks and record every resource it registers.

This is the SDK's documented unit-test path (``pulumi.runtime.set_mocks``) with a
monitor that keeps what each registration carried: type, name, parent, whether it
is a custom resource or a component, the inputs as the program passed them, the
provider, and the dependencies (stack policies follow these across resources).
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickletools
import runpy
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from blueprint.config import NAMESPACE
from blueprint.config.loader import is_secure
from blueprint.paths import STACK_DIR
from blueprint.secrets import MASK
from tools.preview.mocks import BlueprintMocks

PROGRAM = STACK_DIR / "__main__.py"


@dataclass
class Plan:
    """What a stack would create: the offline equivalent of ``pulumi preview``."""

    stack: str
    project: str
    resources: list[dict[str, Any]]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: list[tuple[str, ...]] = field(default_factory=list)
    """Paths into ``outputs`` of the values the program marked secret (``Output.secret``).

    Kept for display only: the plan file's format stays as documented."""

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "project": self.project,
            "resources": self.resources,
            "outputs": self.outputs,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n"

    @property
    def custom(self) -> list[dict[str, Any]]:
        """Resources a provider creates (components excluded)."""
        return [r for r in self.resources if r["custom"]]

    def by_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]


SECRET = MASK
"""What a plan shows in place of a secret value: plans are reviewed, printed and kept."""


def jsonable(value: Any) -> Any:
    """Inputs as plain JSON: resource references become their URN, sets sorted lists,
    secrets ``[secret]`` (never their value)."""
    if rpc.is_rpc_secret(value):
        return SECRET
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _opaque(value)


def _opaque(value: Any) -> Any:
    if isinstance(value, pulumi.Resource):
        return f"<resource {type(value).__name__}>"
    if isinstance(value, pulumi.FileAsset):
        # Repository-relative, so plans do not depend on where the checkout lives.
        path = Path(str(value.path)).resolve()
        root = PROGRAM.parents[1]
        return {"fileAsset": str(path.relative_to(root) if path.is_relative_to(root) else path)}
    return str(value)


def describe_dynamic_provider(serialized: str) -> str:
    """A dynamic resource's ``__provider`` (base64 of a pickle) as a reviewer can read it.

    Names the provider class the pickle refers to and a digest of the exact bytes,
    so the plan shows which code runs and a golden diff shows when it changes.
    """
    raw = base64.b64decode(serialized)
    strings: list[str] = []
    names: list[str] = []
    for op, arg, _pos in pickletools.genops(raw):
        if isinstance(arg, str) and op.name.endswith("UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            names.append(f"{strings[-2]}.{strings[-1]}")
        elif op.name == "GLOBAL" and isinstance(arg, str):
            names.append(arg.replace(" ", "."))
    what = names[-1] if names else "unknown"
    return f"<dynamic provider {what} sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps every registration for the plan."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object)
        if isinstance(inputs.get("__provider"), str):
            inputs["__provider"] = describe_dynamic_provider(inputs["__provider"])
        record: dict[str, Any] = {
            "urn": response.urn,
            "type": request.type,
            "name": request.name,
            "parent": request.parent or None,
            "custom": bool(request.custom),
            "inputs": jsonable(inputs),
            # "<provider urn>::<id>"; keep the URN so policies can read the
            # provider's inputs (default tags, region).
            "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,
            "dependencies": sorted(set(request.dependencies)),
            "propertyDependencies": {
                key: sorted(set(deps.urns)) for key, deps in request.propertyDependencies.items()
            },
        }
        if request.protect:
            record["protect"] = True
        if request.retainOnDelete:
            record["retainOnDelete"] = True
        if request.aliases:
            record["aliases"] = sorted(_alias(a) for a in request.aliases)
        self.records.append(record)
        return response

    def ReadResource(self, request: Any) -> Any:
        """Reads (``get`` functions, StackReference) are recorded with ``read: true``."""
        response = super().ReadResource(request)
        self.records.append(
            {
                "urn": response.urn,
                "type": request.type,
                "name": request.name,
                "parent": request.parent or None,
                "custom": True,
                "read": True,
                "inputs": jsonable(rpc.deserialize_properties(request.properties)),
                "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,
                "dependencies": sorted(set(request.dependencies)),
                "propertyDependencies": {},
            }
        )
        return response


def _alias(alias: Any) -> str:
    """An alias as a reviewer reads it: its URN, or the parts of its spec that are set."""
    if alias.urn:
        return str(alias.urn)
    spec = alias.spec
    parts = [
        f"{field}={value}"
        for field, value in (
            ("type", spec.type),
            ("name", spec.name),
            ("parent", spec.parentUrn),
            ("stack", spec.stack),
            ("project", spec.project),
        )
        if value
    ]
    if spec.noParent:
        parts.append("noParent")
    return "alias(" + ", ".join(parts) + ")"


def offline_placeholder(key: str) -> str:
    """What the offline preview hands the program for an encrypted value: it never decrypts."""
    return f"offline-placeholder-for-{key.rsplit(':', 1)[-1]}"


def config_strings(raw: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file values as Pulumi hands them to programs: strings, JSON for structures;
    an encrypted value becomes a placeholder (:func:`offline_placeholder`)."""
    out = {}
    for key, value in raw.items():
        if is_secure(value):
            out[key] = offline_placeholder(key)
        elif isinstance(value, dict | list):
            out[key] = json.dumps(_placeholders(value, key))
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def _placeholders(value: Any, key: str) -> Any:
    """A structure with encrypted leaves (``pulumi config set --secret --path``): each leaf
    becomes a placeholder, never its ciphertext."""
    if is_secure(value):
        return offline_placeholder(key)
    if isinstance(value, dict):
        return {k: _placeholders(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def has_secret(value: Any) -> bool:
    """Encrypted, or a structure with an encrypted leaf: Pulumi marks the whole key secret."""
    if is_secure(value):
        return True
    if isinstance(value, dict):
        return any(has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secret(v) for v in value)
    return False


def record_program(
    stack: str,
    raw_config: Mapping[str, Any],
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    program: Path = PROGRAM,
    monitor: RecordingMonitor | None = None,
    *,
    placeholders: Collection[str] = (),
) -> Plan:
    """Run ``program`` as stack ``stack`` under mocks and return what it registered.

    ``stack_outputs`` answers StackReferences, keyed by stack name. ``placeholders``:
    full secret keys the stack file does not set that the program gets as
    :func:`offline_placeholder` values, marked secret (as an encrypted value would be).
    """
    if monitor is None:
        monitor = RecordingMonitor(BlueprintMocks(stack_outputs))
    settings.ROOT.set(None)
    strings = config_strings(raw_config)
    secret_keys = [k for k, v in raw_config.items() if has_secret(v)]
    for key in placeholders:
        if key not in raw_config:
            strings[key] = offline_placeholder(key)
            secret_keys.append(key)
    pulumi.runtime.set_all_config(strings, secret_keys=secret_keys)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=NAMESPACE, stack=stack, preview=False, monitor=monitor
    )
    exported: dict[str, Any] = {}
    raw_outputs: dict[str, Any] = {}

    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")
        root = settings.get_root_resource()
        outputs = getattr(root, "outputs", {})
        raw_outputs.update(outputs)
        pulumi.Output.from_input(outputs).apply(lambda resolved: exported.update(resolved or {}))

    _sync_await(run_pulumi_func(run))
    resources = sorted(monitor.records, key=lambda r: r["urn"])
    secret = secret_paths(raw_outputs)
    return Plan(
        stack=stack,
        project=NAMESPACE,
        resources=resources,
        outputs=mask(jsonable(exported), secret),
        secret_outputs=secret,
    )


def mask(outputs: Any, paths: list[tuple[str, ...]]) -> Any:
    """``outputs`` with the value at each secret path replaced by ``[secret]``."""
    for path in paths:
        if not path:
            return SECRET
        node = outputs
        for part in path[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
            if node is None:
                break
        if node is None:
            continue
        last = path[-1]
        if isinstance(node, list):
            node[int(last)] = SECRET
        elif isinstance(node, dict) and last in node:
            node[last] = SECRET
    return outputs


def secret_paths(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Where ``value`` (stack outputs as exported) holds an ``Output`` marked secret.

    Called once the program has finished, when every output is resolved, so asking
    an output whether it is secret does not wait on anything.
    """
    if isinstance(value, pulumi.Output):
        return [path] if _sync_await(value.is_secret()) else []
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in secret_paths(v, (*path, str(k)))]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in secret_paths(v, (*path, str(i)))]
    return []
