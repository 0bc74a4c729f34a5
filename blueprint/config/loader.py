"""Turning a stack's raw configuration into a validated :class:`StackConfig`.

Two entry points: :func:`load_stack_file` for a stack file on disk (the offline
preview, the tools and the tests) and :func:`validate_config` for a ``config:``
mapping already read, which the composition root (``composition/context.py``, the
only reader of Pulumi config) uses for the running program.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from blueprint.config import yamlsafe
from blueprint.config.errors import ConfigError, ConfigIssue, PathPart
from blueprint.config.esc import EscImport, environment_names, offline_values
from blueprint.config.rules import SectionUnchecked, run_rules
from blueprint.paths import STACK_DIR, display_path
from blueprint.schema import (
    NAMESPACE,
    SECRET_KEYS,
    SECRET_MAPS,
    TENANT_PATTERN,
    TENANT_WORDS,
    StackConfig,
)

# Provider keys that would configure a second, ambient source of the same fact:
# the blueprint builds explicit providers from its own keys.
_PROVIDER_KEYS = {
    "aws:region": "aws.region",
    "gcp:project": "gcp.project",
    "gcp:region": "gcp.region",
}


def stack_file(stack: str, directory: Path = STACK_DIR) -> Path:
    return directory / f"Pulumi.{stack}.yaml"


class StackSource:
    """A stack file's text, for reading values and for finding the line of a key."""

    def __init__(self, name: str, text: str | None) -> None:
        self.name = name
        self.text = text
        self.imports: list[EscImport] = []
        """The ESC environments the file imports, as the offline preview stood them in."""
        self._root: yaml.Node | None = None
        if text is not None:
            try:
                self._root = yaml.compose(text, Loader=yaml.SafeLoader)
            except yaml.YAMLError:
                self._root = None

    def line_of(self, path: tuple[PathPart, ...]) -> int | None:
        """1-based line of the deepest key of ``path`` found in the file."""
        node = self._root
        if not isinstance(node, yaml.MappingNode):
            return None
        node = _child(node, "config")
        if node is None or not path:
            return None
        found: int | None = None
        first = str(path[0])
        keys: list[PathPart] = [first if ":" in first else f"{NAMESPACE}:{first}", *path[1:]]
        for part in keys:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
                if match is None:
                    break
                found = match[0].start_mark.line + 1
                node = match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                found = node.start_mark.line + 1
            else:
                break
        return found


def _child(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in node.value if k.value == key), None)


def read_stack_file(path: Path) -> tuple[dict[str, Any], StackSource]:
    """Read a stack file's ``config:`` mapping; unreadable, non-UTF-8, malformed or
    unbounded YAML becomes a ConfigError naming the file and line."""
    name = display_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            name, [ConfigIssue((), f"cannot read the stack file: {exc.strerror}")]
        ) from None
    try:
        text = yamlsafe.decode(data)
        doc = yamlsafe.load(text)
    except yamlsafe.YamlRefused as exc:
        line = exc.line
        raise ConfigError(name, [ConfigIssue((), exc.message)], lambda _p: line) from None
    source = StackSource(name, text)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("config", {}), dict):
        raise ConfigError(name, [ConfigIssue((), "must be a mapping with a 'config:' mapping")])
    config = dict(doc.get("config") or {})
    if "environment" not in doc:
        return config, source
    # Imported ESC environments: their placeholder files stand in offline, under the
    # stack file's own keys (which win, as with the Pulumi CLI).
    names = environment_names(doc["environment"], name)
    supplied, source.imports = offline_values(names, path.parent, name)
    own = {k if ":" in str(k) else f"{NAMESPACE}:{k}" for k in config}
    return {**{k: v for k, v in supplied.items() if k not in own}, **config}, source


def load_stack_file(path: Path) -> StackConfig:
    raw, source = read_stack_file(path)
    return validate_config(raw, source)


def validate_config(raw: Mapping[str, Any], source: StackSource) -> StackConfig:
    """Validate a whole ``config:`` mapping (full ``namespace:key`` keys).

    Every problem of the file comes in one round: shape errors, and the issues of
    every cross-field rule that reads only sections whose shape is valid. Rules that
    would read an invalid section are skipped (the note says which sections they
    wait for). The ConfigError raised carries every issue found.
    """
    sections, issues = _split_namespaces(raw)
    issues += _plaintext_secrets(source)
    config: StackConfig | None = None
    view: StackConfig | PartialConfig | None
    try:
        config = StackConfig.model_validate(sections)
        view = config
    except ValidationError as exc:
        issues.extend(_translate(exc, sections))
        view = PartialConfig.of(sections, exc)
    skipped: dict[str, str] = {}
    if view is not None:
        found, skipped = run_rules(view)  # type: ignore[arg-type]
        issues.extend(found)
    if issues:
        waiting = sorted(set(skipped.values()))
        note = None
        if config is None and (view is None or waiting):
            which = ", ".join(waiting) if waiting else "every section"
            note = f"checks that read {which} run once those sections are fixed"
        if source.imports and any(i.message == _MISSING for i in issues):
            files = ", ".join(i.file for i in source.imports)
            esc = f"a key the imported ESC environments supply offline goes in {files}"
            note = f"{note}; {esc}" if note else esc
        raise ConfigError(source.name, issues, source.line_of, note)
    if config is None:  # no issue, yet no config: cannot happen, but never return None
        raise ConfigError(source.name, [ConfigIssue((), "could not be validated")])
    return config


class PartialConfig:
    """A stack config whose valid sections can be read and whose invalid ones cannot.

    Reading an invalid (or missing required) section raises
    :class:`~blueprint.config.rules.SectionUnchecked`, so the rules that need it are
    skipped while the others report their issues in the same run.
    """

    def __init__(self, config: StackConfig, invalid: frozenset[str]) -> None:
        self._config = config
        self._invalid = invalid

    def __getattr__(self, name: str) -> Any:
        if name in self._invalid:
            raise SectionUnchecked(_ALIASES.get(name, name))
        return getattr(self._config, name)

    @classmethod
    def of(cls, sections: Mapping[str, Any], exc: ValidationError) -> PartialConfig | None:
        fields = {info.alias or name: name for name, info in StackConfig.model_fields.items()}
        bad = {
            fields[str(err["loc"][0])]
            for err in exc.errors(include_url=False)
            if err["loc"] and str(err["loc"][0]) in fields
        }
        kept = {k: v for k, v in sections.items() if k in fields and fields[k] not in bad}
        stand_ins = {
            alias: _STAND_IN[alias]
            for alias, name in fields.items()
            if name in bad and StackConfig.model_fields[name].is_required()
        }
        try:
            config = StackConfig.model_validate({**kept, **stand_ins})
        except ValidationError:
            return None
        return cls(config, frozenset(bad))


# What a required section holds while it is invalid: never read (PartialConfig refuses).
_STAND_IN: dict[str, Any] = {"environment": "dev", "costCenter": "unchecked", "team": "unchecked"}
_ALIASES = {name: info.alias or name for name, info in StackConfig.model_fields.items()}


def _split_namespaces(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[ConfigIssue]]:
    sections: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for key, value in raw.items():
        if ":" not in str(key):
            key = f"{NAMESPACE}:{key}"  # noqa: PLW2901 (Pulumi reads a bare key so too)
        namespace, _, name = str(key).partition(":")
        if key in _PROVIDER_KEYS:
            issues.append(
                ConfigIssue(
                    (),
                    full_key=key,
                    message=f"'{key}' is not used: the blueprint configures its providers "
                    f"explicitly; set {NAMESPACE}:{_PROVIDER_KEYS[key]} instead and remove '{key}'",
                )
            )
        elif namespace != NAMESPACE and _looks_like(namespace, NAMESPACE):
            issues.append(
                ConfigIssue(
                    (),
                    full_key=str(key),
                    message=f"unknown namespace '{namespace}'; did you mean {NAMESPACE}? "
                    f"(the whole key would be ignored: {NAMESPACE}:{name})",
                )
            )
        elif namespace == NAMESPACE and name in SECRET_KEYS:
            continue  # read by the composition with Pulumi's secret API, never here
        elif namespace == NAMESPACE and is_secure(value):
            issues.append(
                ConfigIssue(
                    (name,),
                    f"is encrypted (pulumi config set --secret), but it is not one of the "
                    f"blueprint's secrets ({', '.join(sorted(SECRET_KEYS))}), which the program "
                    "reads with Pulumi's secret API; set it without --secret",
                )
            )
        elif namespace == NAMESPACE:
            sections[name] = _decode(value)
    return sections, issues


def _plaintext_secrets(source: StackSource) -> list[ConfigIssue]:
    """A secret key written in the stack file in clear text: refused, and never echoed.

    Read from the file itself (``pulumi config set --secret`` writes ``{secure: ...}``,
    leaf by leaf with ``--path``): the running program receives secrets decrypted, so the
    values it is handed cannot tell the two apart.
    """
    try:
        doc = yaml.safe_load(source.text) if source.text else None
    except yaml.YAMLError:
        return []  # read_stack_file reports a file YAML cannot read
    config = doc.get("config") if isinstance(doc, Mapping) else None
    if not isinstance(config, Mapping):
        return []
    issues: list[ConfigIssue] = []
    for key, value in config.items():
        name = str(key).removeprefix(f"{NAMESPACE}:")
        if name not in SECRET_KEYS or ":" in name:
            continue
        how = SECRET_KEYS[name].rsplit("; ", 1)[-1]
        if name in SECRET_MAPS:
            issues += _secret_map_names(name, value, how)
        for path in _clear_leaves(value, (name,)):
            issues.append(
                ConfigIssue(
                    path,
                    f"is a secret but is written in clear text (value not shown): remove it "
                    f"from the file, rotate it, and {how}",
                )
            )
    return issues


def _secret_map_names(name: str, value: Any, how: str) -> list[ConfigIssue]:
    """A secret that is a map of names to secrets (``--path``): the names are plain text."""
    if not isinstance(value, Mapping) or is_secure(value):
        return [ConfigIssue((name,), f"must map each tenant to its own secret: {how}")]
    return [
        ConfigIssue((name, str(k)), f"must be {TENANT_WORDS}", str(k))
        for k in value
        if not re.fullmatch(TENANT_PATTERN, str(k))
    ]


def _clear_leaves(value: Any, path: tuple[PathPart, ...]) -> list[tuple[PathPart, ...]]:
    if is_secure(value):
        return []
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _clear_leaves(v, (*path, str(k)))]
    return [path]


def is_secure(value: Any) -> bool:
    """A value ``pulumi config set --secret`` wrote in a stack file: ``{secure: <ciphertext>}``."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _looks_like(namespace: str, wanted: str) -> bool:
    """A misspelt namespace: its section would be ignored without a word otherwise."""
    return difflib.SequenceMatcher(None, namespace, wanted).ratio() >= 0.8


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON text; decode it."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


_MISSING = "required key is missing"


def _translate(exc: ValidationError, sections: Mapping[str, Any]) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc: tuple[PathPart, ...] = tuple(err["loc"])
        kind = err["type"]
        if loc and loc[-1] == "[key]":
            path = loc[:-1]
            issues.append(ConfigIssue(path, f"invalid name: {_plain(err['msg'])}", path[-1]))
            continue
        if kind == "missing":
            issues.append(ConfigIssue(loc, _MISSING))
        elif kind == "extra_forbidden":
            accepted = _accepted_keys(loc[:-1])
            where = "section" if len(loc) == 1 else "key"
            close = difflib.get_close_matches(str(loc[-1]), accepted, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            hint += f" accepted: {', '.join(accepted)}" if accepted else ""
            issues.append(ConfigIssue(loc, f"unknown {where}{hint}"))
        else:
            message = _FRIENDLY.get(kind) or _plain(err["msg"])
            issues.append(ConfigIssue(loc, message, err.get("input")))
    return issues


# Pydantic's wording replaced where a user needs to know what to write instead.
_FRIENDLY = {
    "string_type": 'must be a string; quote it in YAML ("1.30" would otherwise read as 1.3)',
    "ip_v4_network": "must be an IPv4 network in CIDR form, such as 10.0.0.0/16",
    "dict_type": "must be a mapping of name: value",
    "list_type": "must be a list, such as [a, b]",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number (not .inf or .nan)",
}


def _plain(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if msg.startswith("Input should be "):
        msg = "must be " + msg[len("Input should be ") :]
    return msg


def _accepted_keys(path: tuple[PathPart, ...]) -> list[str]:
    """The keys a user may write at ``path``, from the schema itself."""
    model = _model_at(path)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_at(path: tuple[PathPart, ...]) -> type[BaseModel] | None:
    current: Any = StackConfig
    parts = list(path)
    while parts:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            part = parts.pop(0)
            field = next(
                (f for n, f in current.model_fields.items() if (f.alias or n) == part), None
            )
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            parts.pop(0)
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(tp: Any) -> Any:
    """Strip Optional[...] and Annotated[...] down to the underlying type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp
