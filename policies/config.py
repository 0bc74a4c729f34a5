"""Policy-pack configuration per environment: ``policies/environments.yaml``.

The file says, for every environment, which enforcement level each policy has and
the properties it takes (the GPU types dev may use, the ceiling per pool, ...)::

    defaults:                 # every environment, unless it says otherwise
      log-retention: {maxDays: 400}
    environments:
      dev:
        min-replicas: disabled
        gpu-pool-ceiling: {enforcementLevel: mandatory, maxNodes: 2}

An entry is a level (``mandatory``, ``advisory``, ``disabled``) or a mapping with
an optional ``enforcementLevel`` and the policy's properties. Properties are
checked against the policy's own configuration model (the same model its JSON
schema for ``pulumi preview --policy-pack-config`` comes from), so a bad entry is
reported with the file, the line, the key, the bad value and what is accepted.

``python -m policies.config render <env>`` prints the environment's effective
configuration as the JSON file ``pulumi preview --policy-pack-config`` reads;
``python -m policies.config check`` validates the file.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import EnforcementLevel
from pydantic import ValidationError

from blueprint import diagnostics
from blueprint.schema import Environment
from policies._lib import CONFIG_MODELS
from policies.registry import BY_NAME, POLICIES

CONFIG_FILE = Path(__file__).with_name("environments.yaml")
LEVELS = ("mandatory", "advisory", "disabled")
EXIT_CONFIG_ERROR = 2


@dataclass(frozen=True)
class PolicySetting:
    """One policy's effective setting in one environment."""

    level: EnforcementLevel
    properties: dict[str, Any]


class PolicyConfigError(Exception):
    """The policy configuration file is invalid; every problem is listed."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        n = len(problems)
        head = f"{source}: {n} policy configuration error{'s' if n != 1 else ''}:"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _Lines:
    """Line numbers of keys in the YAML file, for error messages."""

    def __init__(self, text: str) -> None:
        try:
            self.root: Any = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            self.root = None

    def of(self, *path: str) -> int | None:
        node, found = self.root, None
        for part in path:
            if not isinstance(node, yaml.MappingNode):
                break
            match = next(((k, v) for k, v in node.value if str(k.value) == part), None)
            if match is None:
                break
            found, node = match[0].start_mark.line + 1, match[1]
        return found


def _level(value: Any) -> EnforcementLevel | None:
    return EnforcementLevel(value) if value in LEVELS else None


def load(path: Path = CONFIG_FILE) -> dict[str, dict[str, PolicySetting]]:
    """Every environment's effective setting of every policy; raises PolicyConfigError."""
    source = _display(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyConfigError(source, [f"cannot read the file: {exc.strerror}"]) from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        why = getattr(exc, "problem", None) or str(exc)
        raise PolicyConfigError(
            source, [diagnostics.render(source, line, "yaml", f"not valid YAML: {why}")]
        ) from None
    lines = _Lines(text)
    problems: list[str] = []

    def problem(path: tuple[str, ...], what: str, value: Any = None, show: bool = True) -> None:
        shown = value if show else diagnostics.NO_VALUE
        problems.append(
            diagnostics.render(source, lines.of(*path), ".".join(path), what, value=shown)
        )

    if not isinstance(doc, dict):
        raise PolicyConfigError(source, ["must be a mapping with 'defaults' and 'environments'"])
    for key in doc:
        if key not in {"defaults", "environments"}:
            problem((str(key),), "unknown key; the file has 'defaults' and 'environments'", key)
    defaults = doc.get("defaults") or {}
    environments = doc.get("environments") or {}
    known_envs = [e.value for e in Environment]
    if not isinstance(environments, dict):
        problem(("environments",), "must map environment -> policies", environments)
        environments = {}
    for env in environments:
        if env not in known_envs:
            problem(
                ("environments", str(env)),
                f"is not an environment; known: {', '.join(known_envs)}",
                env,
            )

    def entries(section: Any, base: tuple[str, ...]) -> dict[str, tuple[Any, dict[str, Any]]]:
        """policy -> (level or None, properties), checking names and levels."""
        out: dict[str, tuple[Any, dict[str, Any]]] = {}
        if not isinstance(section, dict):
            problem(base, "must map policy name -> level or settings", section)
            return out
        for name, value in section.items():
            path = (*base, str(name))
            if name not in BY_NAME:
                close = difflib.get_close_matches(str(name), BY_NAME, n=1)
                hint = f"; did you mean {close[0]}?" if close else "; see policies/README.md"
                problem(path, f"is not a policy of the pack{hint}", name)
                continue
            if isinstance(value, str):
                if _level(value) is None:
                    problem(path, f"must be one of {', '.join(LEVELS)}", value)
                    continue
                out[name] = (value, {})
            elif isinstance(value, dict):
                props = {k: v for k, v in value.items() if k != "enforcementLevel"}
                level = value.get("enforcementLevel")
                if level is not None and _level(level) is None:
                    problem(
                        (*path, "enforcementLevel"), f"must be one of {', '.join(LEVELS)}", level
                    )
                    continue
                out[name] = (level, props)
            else:
                problem(path, "must be a level or a mapping of settings", value)
        return out

    base_entries = entries(defaults, ("defaults",))
    env_entries = {
        env: entries(section or {}, ("environments", str(env)))
        for env, section in environments.items()
        if env in known_envs
    }
    result: dict[str, dict[str, PolicySetting]] = {}
    for env in known_envs:
        mine = env_entries.get(env, {})
        settings: dict[str, PolicySetting] = {}
        for policy in POLICIES:
            level: Any = policy.enforcement_level.value if policy.enforcement_level else "mandatory"
            props: dict[str, Any] = {}
            origin: tuple[str, ...] = ("defaults", policy.name)
            for scope, found in ((("defaults",), base_entries), (("environments", env), mine)):
                if policy.name in found:
                    lvl, more = found[policy.name]
                    level = lvl or level
                    props.update(more)
                    if more:
                        origin = (*scope, policy.name)
            model = CONFIG_MODELS[policy.name]
            try:
                parsed = model.model_validate(props)
            except ValidationError as exc:
                for err in exc.errors():
                    key = ".".join(str(p) for p in err["loc"])
                    accepted = sorted((f.alias or n) for n, f in model.model_fields.items())
                    why = err["msg"]
                    if err["type"] == "extra_forbidden":
                        why = (
                            f"is not a property of {policy.name}; it takes "
                            f"{', '.join(accepted) or 'only enforcementLevel'}"
                        )
                    problem((*origin, key), f"{why} (environment {env})", err.get("input"))
                continue
            settings[policy.name] = PolicySetting(
                EnforcementLevel(level), parsed.model_dump(by_alias=True, mode="json")
            )
        result[env] = settings
    if problems:
        raise PolicyConfigError(source, sorted(set(problems), key=problems.index))
    return result


def for_environment(env: str, path: Path = CONFIG_FILE) -> dict[str, PolicySetting]:
    return load(path)[env]


def render(env: str, path: Path = CONFIG_FILE) -> dict[str, Any]:
    """The environment's configuration in the shape ``--policy-pack-config`` reads."""
    return {
        name: {"enforcementLevel": s.level.value, **s.properties}
        for name, s in for_environment(env, path).items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policies.config", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rend = sub.add_parser("render", help="print an environment's --policy-pack-config JSON")
    rend.add_argument("environment", choices=[e.value for e in Environment])
    sub.add_parser("check", help="validate the file")
    parser.add_argument("--file", type=Path, default=CONFIG_FILE)
    args = parser.parse_args(argv)
    try:
        if args.command == "render":
            print(json.dumps(render(args.environment, args.file), indent=2, sort_keys=True))
        else:
            load(args.file)
            print(f"{_display(args.file)}: ok")
    except PolicyConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
