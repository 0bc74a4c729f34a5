"""CEL as the Kubernetes API server evaluates ``x-kubernetes-validations`` rules.

cel-python (PyPI ``cel-python``) evaluates standard CEL: operators, ``has()``, ``size()``,
the ``all``/``exists``/``exists_one``/``map``/``filter`` macros, ``startsWith``,
``endsWith``, ``contains``, ``matches``, ``int()``, ``duration()``, ``dyn()``. Kubernetes adds
libraries; this module adds the functions of them that the pinned CRDs use, and
:data:`KNOWN_UNSUPPORTED` names the ones it does not implement, so a rule that calls one is
reported as not evaluated (never passed silently).

Property names are escaped as Kubernetes does before a rule sees them (``namespace`` is
``__namespace__``, ``a-b`` is ``a__dash__b``): see :func:`escape`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import celpy
from celpy import celtypes

RESERVED = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
"""CEL's reserved words: a property of one of these names is ``__<name>__`` in a rule."""


def escape(name: str) -> str:
    """A property name as a Kubernetes CEL rule refers to it."""
    if name in RESERVED:
        return f"__{name}__"
    return (
        name.replace("__", "__underscores__")
        .replace(".", "__dot__")
        .replace("-", "__dash__")
        .replace("/", "__slash__")
    )


def _split(text: Any, sep: Any, limit: Any = None) -> celtypes.ListType:
    """Kubernetes strings library: ``'a@b'.split('@')`` (``limit`` as Go's SplitN)."""
    parts = str(text).split(str(sep)) if limit is None or int(limit) < 0 else None
    if parts is None:
        n = int(limit)
        parts = [] if n == 0 else str(text).split(str(sep), n - 1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _find(text: Any, pattern: Any) -> celtypes.StringType:
    """Kubernetes regex library: the first match of ``pattern`` in the string, or ''."""
    match = re.search(str(pattern), str(text))
    return celtypes.StringType(match.group(0) if match else "")


def _find_all(text: Any, pattern: Any, limit: Any = -1) -> celtypes.ListType:
    found = [m.group(0) for m in re.finditer(str(pattern), str(text))]
    if int(limit) >= 0:
        found = found[: int(limit)]
    return celtypes.ListType([celtypes.StringType(f) for f in found])


def _lower_ascii(text: Any) -> celtypes.StringType:
    return celtypes.StringType(str(text).lower())


def _upper_ascii(text: Any) -> celtypes.StringType:
    return celtypes.StringType(str(text).upper())


def _trim(text: Any) -> celtypes.StringType:
    return celtypes.StringType(str(text).strip())


def _index_of(text: Any, sub: Any) -> celtypes.IntType:
    return celtypes.IntType(str(text).find(str(sub)))


def _join(items: Any, sep: Any = "") -> celtypes.StringType:
    return celtypes.StringType(str(sep).join(str(i) for i in items))


def _replace(text: Any, old: Any, new: Any, limit: Any = -1) -> celtypes.StringType:
    n = int(limit)
    return celtypes.StringType(str(text).replace(str(old), str(new), n if n >= 0 else -1))


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "split": _split,
    "find": _find,
    "findAll": _find_all,
    "lowerAscii": _lower_ascii,
    "upperAscii": _upper_ascii,
    "trim": _trim,
    "indexOf": _index_of,
    "join": _join,
    "replace": _replace,
}
"""Kubernetes CEL library functions added to cel-python."""

KNOWN_UNSUPPORTED = frozenset(
    {
        "isURL",
        "url",
        "isIP",
        "ip",
        "isCIDR",
        "cidr",
        "quantity",
        "isQuantity",
        "isSorted",
        "sum",
        "min",
        "max",
        "format",
        "lastIndexOf",
        "reverse",
        "getScheme",
        "getHost",
        "getHostname",
        "getPort",
        "getEscapedPath",
        "getQuery",
        "semver",
        "isSemver",
        "optional",
        "orValue",
        "hasValue",
        "value",
        "ext",
    }
)
"""Kubernetes library functions not implemented here: a rule calling one is not evaluated."""

_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def unsupported_calls(rule: str) -> list[str]:
    """Functions ``rule`` calls that this evaluator does not implement."""
    names = {m.group(1) for m in _CALL.finditer(rule)}
    unsupported = sorted(names & KNOWN_UNSUPPORTED)
    if "?." in rule or ".?" in rule:
        unsupported.append("optional field selection (?.)")
    return unsupported


def is_transition_rule(rule: str) -> bool:
    """A rule comparing with ``oldSelf`` runs only on update, against the live object."""
    return re.search(r"\boldSelf\b", rule) is not None


_ENV = celpy.Environment()


@cache
def program(rule: str) -> Any:
    """The compiled rule (raises ``celpy.CELParseError`` on a syntax cel-python lacks)."""
    return _ENV.program(_ENV.compile(rule), functions=dict(FUNCTIONS))


class RuleError(Exception):
    """The rule could not be evaluated (the API server would refuse the object too)."""


def evaluate(rule: str, value: Any) -> bool:
    """Whether ``rule`` holds for ``self`` = ``value`` (JSON data, properties escaped)."""
    try:
        result = program(rule).evaluate({"self": celpy.json_to_cel(value)})
    except celpy.CELEvalError as exc:
        raise RuleError(str(exc.args[0]) if exc.args else str(exc)) from exc
    if isinstance(result, celpy.CELEvalError):
        raise RuleError(str(result.args[0]) if result.args else str(result))
    if not isinstance(result, celtypes.BoolType | bool):
        raise RuleError(f"the rule gave {result!r}, not a boolean")
    return bool(result)


def message(rule_spec: Mapping[str, Any], value: Any) -> str:
    """The rule's message: ``messageExpression`` evaluated, else ``message``, else the rule."""
    expression = rule_spec.get("messageExpression")
    if expression:
        try:
            result = program(str(expression)).evaluate({"self": celpy.json_to_cel(value)})
            if isinstance(result, celtypes.StringType | str):
                return str(result)
        except (celpy.CELEvalError, celpy.CELParseError):
            pass
    return str(rule_spec.get("message") or f"failed rule: {rule_spec['rule']}")
