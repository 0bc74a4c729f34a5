"""A custom resource against its CRD's structural schema, as the API server validates it.

Three steps, in the API server's order:

1. :func:`json_schema`: the CRD's ``openAPIV3Schema`` as a JSON Schema ``jsonschema`` runs.
   Kubernetes' extensions become plain JSON Schema: ``x-kubernetes-int-or-string`` is
   "integer or string"; ``nullable`` admits ``null``; an object schema with ``properties``
   and no ``x-kubernetes-preserve-unknown-fields`` admits no other field (the API server
   prunes unknown fields, or refuses them with field validation ``Strict``, so either way
   what the plan sets there never takes effect); ``x-kubernetes-embedded-resource`` admits
   ``apiVersion``/``kind``/``metadata``; OpenAPI's boolean ``exclusiveMinimum`` becomes
   the numeric form. ``format`` is not checked (the API server checks few formats).
2. :func:`with_defaults`: the schema's ``default`` values filled in, as the API server
   defaults an object before it validates it (CEL rules see defaulted fields).
3. :func:`cel_findings`: every ``x-kubernetes-validations`` rule on a node the object has,
   evaluated with ``self`` = that node (:mod:`tools.conformance.cel`). Transition rules
   (``oldSelf``) run only on update and rules calling a function the evaluator lacks are
   returned as not evaluated, with the reason.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from tools.conformance import cel

_COPIED = (
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "enum",
    "required",
    "multipleOf",
)


def json_schema(node: Mapping[str, Any], *, root: bool = True) -> dict[str, Any]:
    """The JSON Schema of a structural schema node (see the module docstring)."""
    out: dict[str, Any] = {k: copy.deepcopy(node[k]) for k in _COPIED if k in node}
    if node.get("x-kubernetes-list-type") in ("map", "set"):
        # Uniqueness by key or value: the API server checks it, not by whole items.
        out.pop("uniqueItems", None)
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if node.get(exclusive) is True and bound in out:
            out[exclusive] = out.pop(bound)
    out.update(_types(node))
    if "enum" in out and node.get("nullable"):
        out["enum"] = [*out["enum"], None]
    if "properties" in node:
        out["properties"] = {n: json_schema(c, root=False) for n, c in node["properties"].items()}
    if isinstance(node.get("items"), Mapping):
        out["items"] = json_schema(node["items"], root=False)
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in node:
            out[combinator] = [json_schema(c, root=False) for c in node[combinator]]
    if "not" in node:
        out["not"] = json_schema(node["not"], root=False)
    out.update(_additional(node, out.get("properties"), root))
    return out


def _types(node: Mapping[str, Any]) -> dict[str, Any]:
    types: list[str] = []
    if node.get("x-kubernetes-int-or-string"):
        types = ["integer", "string"]
    elif "type" in node:
        types = [str(node["type"])]
    if not types:
        return {}
    if node.get("nullable"):
        types.append("null")
    return {"type": types[0] if len(types) == 1 else types}


def _additional(node: Mapping[str, Any], properties: Any, root: bool) -> dict[str, Any]:
    """``additionalProperties`` (and the implicit object fields) of a node."""
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping):
        return {"additionalProperties": json_schema(additional, root=False)}
    if additional is not None:
        return {"additionalProperties": bool(additional)}
    if not _closed(node):
        return {}
    out: dict[str, Any] = {"additionalProperties": False}
    if node.get("x-kubernetes-embedded-resource") or root:
        props = dict(properties or {})
        for name in ("apiVersion", "kind"):
            props.setdefault(name, {})
        # ObjectMeta is validated by the API server itself (tools/conformance/meta.py).
        props["metadata"] = {"type": "object"}
        out["properties"] = props
    return out


def _closed(node: Mapping[str, Any]) -> bool:
    """An object node that admits only its declared properties."""
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return False
    if node.get("type") != "object" and "properties" not in node:
        return False
    return "additionalProperties" not in node


def with_defaults(node: Mapping[str, Any], value: Any) -> Any:
    """``value`` with the schema's defaults filled in (a new object; ``value`` is kept)."""
    if isinstance(value, dict):
        out = dict(value)
        props: Mapping[str, Any] = node.get("properties") or {}
        for name, child in props.items():
            if name not in out and "default" in child:
                out[name] = copy.deepcopy(child["default"])
            if name in out:
                out[name] = with_defaults(child, out[name])
        additional = node.get("additionalProperties")
        if isinstance(additional, Mapping):
            for name, child in list(out.items()):
                if name not in props:
                    out[name] = with_defaults(additional, child)
        return out
    if isinstance(value, list) and isinstance(node.get("items"), Mapping):
        return [with_defaults(node["items"], v) for v in value]
    return value


def cel_value(node: Mapping[str, Any], value: Any) -> Any:
    """``value`` as a rule sees it: the names of declared properties escaped."""
    if isinstance(value, dict):
        props: Mapping[str, Any] = node.get("properties") or {}
        additional = node.get("additionalProperties")
        out = {}
        for name, child in value.items():
            if name in props:
                out[cel.escape(name)] = cel_value(props[name], child)
            elif isinstance(additional, Mapping):
                out[name] = cel_value(additional, child)
            else:
                out[cel.escape(name) if props else name] = child
        return out
    if isinstance(value, list) and isinstance(node.get("items"), Mapping):
        return [cel_value(node["items"], v) for v in value]
    return value


@dataclass(frozen=True)
class RuleResult:
    path: tuple[str | int, ...]
    rule: str
    message: str
    evaluated: bool
    """False: not evaluated (``message`` says why)."""


def _walk(
    node: Mapping[str, Any], value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[Mapping[str, Any], Any, tuple[str | int, ...]]]:
    yield node, value, path
    if isinstance(value, dict):
        props: Mapping[str, Any] = node.get("properties") or {}
        additional = node.get("additionalProperties")
        for name, child in value.items():
            if name in props:
                yield from _walk(props[name], child, (*path, name))
            elif isinstance(additional, Mapping):
                yield from _walk(additional, child, (*path, name))
    elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
        for i, child in enumerate(value):
            yield from _walk(node["items"], child, (*path, i))


def cel_findings(schema: Mapping[str, Any], obj: Mapping[str, Any]) -> list[RuleResult]:
    """Every rule that fails, cannot be evaluated, or errs, on the defaulted object."""
    defaulted = with_defaults(schema, dict(obj))
    if isinstance(defaulted.get("metadata"), dict):
        # Rules see only the name and generateName of metadata.
        meta = defaulted["metadata"]
        defaulted["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
    results: list[RuleResult] = []
    for node, value, path in _walk(schema, defaulted, ()):
        for spec in node.get("x-kubernetes-validations") or ():
            rule = str(spec["rule"])
            if cel.is_transition_rule(rule):
                why = (
                    "transition rule (oldSelf, optionalOldSelf): on create oldSelf is an "
                    "optional none, which this evaluator does not model"
                    if spec.get("optionalOldSelf")
                    else "transition rule (oldSelf): the API server evaluates it only on "
                    "update, against the live object"
                )
                results.append(RuleResult(path, rule, why, evaluated=False))
                continue
            missing = cel.unsupported_calls(rule)
            if missing:
                results.append(
                    RuleResult(
                        path,
                        rule,
                        f"uses {', '.join(missing)}, which this CEL evaluator lacks",
                        evaluated=False,
                    )
                )
                continue
            seen = cel_value(node, value)
            try:
                ok = cel.evaluate(rule, seen)
            except cel.RuleError as exc:
                results.append(RuleResult(path, rule, f"rule errs: {exc}", evaluated=True))
                continue
            except Exception as exc:  # noqa: BLE001 (a parser error of cel-python)
                results.append(
                    RuleResult(
                        path,
                        rule,
                        f"cel-python cannot compile it ({type(exc).__name__})",
                        evaluated=False,
                    )
                )
                continue
            if not ok:
                results.append(RuleResult(path, rule, cel.message(spec, seen), evaluated=True))
    return results


def validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    converted = json_schema(schema)
    cls = jsonschema.validators.Draft202012Validator
    return cls(converted)
