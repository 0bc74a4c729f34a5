"""``python -m tools.schema [--check] [--out PATH]``: the stack files' JSON Schema.

Writes ``stacks/schema.json``, a JSON Schema (draft 2020-12) of a whole Pulumi
stack file, derived from :class:`blueprint.schema.StackConfig`. Every stack file
names it on its first line (``# yaml-language-server: $schema=./schema.json``), so
an editor with the YAML language server completes keys, shows each key's
description and flags unknown keys and wrong types while the file is written.

The schema is a convenience for editors, not the authority: the loader
(``blueprint/config``) still validates every stack, and what only it checks is
not here: the formats its validators test (names, regions, versions, images), the
rules across fields and sections, and the provider keys it refuses
(``aws:region`` and the like).

``--check`` writes nothing and exits 1 when the file differs from a fresh render.
Exit status 2 for bad usage or a file that cannot be read or written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from blueprint.paths import STACK_DIR, display_path
from blueprint.schema import NAMESPACE, SECRET_KEYS, StackConfig

SCHEMA_FILE = STACK_DIR / "schema.json"
"""Next to the stack files, which name it by a relative path."""
DIALECT = "https://json-schema.org/draft/2020-12/schema"
OTHER_NAMESPACE = f"^(?!{NAMESPACE}:)[a-z0-9-]+:"
"""A key of another package or provider (``aws:region``, ``kubernetes:context``).

The negative lookahead keeps an unknown ``llm-inference:`` key out of it, so that
``additionalProperties: false`` refuses that key instead. ``NAMESPACE`` holds no
character a regular expression would read as an operator."""
EXIT_STALE = 1
EXIT_USAGE = 2


class _NoFieldTitles(GenerateJsonSchema):
    """Pydantic titles each property after its name ("Ondemandfloor"): noise in an
    editor's hover, which shows the description instead."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def stack_file_schema() -> dict[str, Any]:
    """The JSON Schema of a whole stack file: Pulumi's keys and the blueprint's config."""
    model = StackConfig.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_NoFieldTitles
    )
    defs = model.pop("$defs", {})
    sections = {f"{NAMESPACE}:{name}": prop for name, prop in model["properties"].items()}
    for key, what in sorted(SECRET_KEYS.items()):
        sections[f"{NAMESPACE}:{key}"] = {
            "description": f"secret: {what}",
            "type": "object",
            "properties": {
                "secure": {
                    "type": "string",
                    "description": "the ciphertext `pulumi config set --secret` writes",
                }
            },
            "required": ["secure"],
            "additionalProperties": False,
        }
    config = {
        "type": "object",
        "description": (
            f"The stack's configuration: one '{NAMESPACE}:<section>' key per section of "
            "blueprint/schema.py. Keys of other namespaces (aws:region, kubernetes:context) "
            "belong to their packages and are not checked here."
        ),
        "properties": sections,
        "required": [f"{NAMESPACE}:{name}" for name in model.get("required", [])],
        "patternProperties": {
            OTHER_NAMESPACE: {"description": "a key of another package or provider"}
        },
        "additionalProperties": False,
    }
    return {
        "$schema": DIALECT,
        "title": f"Pulumi stack file of {NAMESPACE} (stacks/Pulumi.<stack>.yaml)",
        "description": (
            "Generated from blueprint/schema.py by `python -m tools.schema`; do not edit. "
            "The loader (blueprint/config) remains the authority: it also checks formats, "
            "the rules across sections, and keys that would configure providers twice."
        ),
        "type": "object",
        "properties": {
            "config": config,
            "secretsprovider": {
                "type": "string",
                "description": "Pulumi: the provider that encrypts the stack's secret values "
                "(default, passphrase, awskms://..., gcpkms://..., azurekeyvault://...)",
            },
            "encryptedkey": {
                "type": "string",
                "description": "Pulumi: the secrets data key, encrypted by a cloud KMS "
                "secrets provider; written by the Pulumi CLI",
            },
            "encryptionsalt": {
                "type": "string",
                "description": "Pulumi: the base64 salt of the passphrase secrets provider; "
                "written by the Pulumi CLI",
            },
            "environment": {
                "description": "Pulumi ESC: the environments the stack imports (a list of "
                "names), or an inline environment definition",
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}],
            },
        },
        "required": ["config"],
        "additionalProperties": False,
        "$defs": defs,
    }


def render() -> str:
    """The schema as committed: sorted keys, 2-space indent, a trailing newline."""
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.schema",
        description="Write the stack files' JSON Schema, or check that it is up to date.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file is stale"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=SCHEMA_FILE,
        metavar="PATH",
        help=f"the schema file (default: {display_path(SCHEMA_FILE)})",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    name = display_path(out)
    text = render()
    if args.check:
        try:
            current = out.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            current = None  # missing or not UTF-8: stale all the same
        except OSError as exc:
            print(f"error: cannot read {name}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        if current != text:
            again = "" if out.resolve() == SCHEMA_FILE.resolve() else f" --out {out}"
            print(f"{name} is stale; run python -m tools.schema{again}", file=sys.stderr)
            return EXIT_STALE
        return 0
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {name}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
