"""Secret literals: no credential written into a resource's inputs in clear text.

A secret belongs in the stack's encrypted config (``pulumi config set --secret``), read
with Pulumi's secret API, so the plan, the state and every output show ``[secret]``.
This policy finds the ones that were typed in instead: a string under a key that
names secret material (``password``, ``token``, ``apiKey``, ``webhookUrl``, ...), and
strings anywhere that have a credential's shape (AWS access key ids, Slack webhook
URLs, PagerDuty routing keys, PEM private keys, GitHub tokens), inside config files
written into a string too. What the key names and shapes are: :mod:`blueprint.secrets`.

Passes: ``[secret]`` (a Pulumi secret, as the offline plan records it), values not
known yet (another resource's output, so not a literal), and properties the provider
marks secret itself (``additionalSecretOutputs``, a Kubernetes Secret's ``data`` and
``stringData``): in a real ``pulumi preview`` pulumi-policy 1.18 hands a policy secret
inputs unwrapped, so only the offline plan can tell a secret Output from a literal
there, and it does: its recorder masks the one and keeps the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from pulumi_policy import ReportViolation, ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError

from blueprint.secrets import MASK, credential_shapes, secret_key
from policies._lib import Level, NoConfig, is_list, message, resource_policy

REDACTED = "<redacted>"
"""What a violation shows in place of the value: the message must not leak it either."""

_REFERENCE_SUFFIXES = ("key", "keys", "ref", "file", "path", "secret", "field", "selector")
"""A key ending so, after the secret word, names where a secret is (``passwordKey``,
``existingSecret``, ``secretKeyRef``, ``routing_key_file``), not the secret."""

_REFERENCE_KEYS = frozenset({"existingsecret", "configsecret", "secretname", "secrets"})
"""Keys that name a Kubernetes Secret (chart values, pod specs)."""

_NOT_SECRET_VALUES = frozenset({"", "true", "false"})


def _names_a_reference(key: str) -> bool:
    """``passwordKey``, ``secretKeyRef``, ``existingSecret``: where a secret is, not it."""
    flat = "".join(ch for ch in key.lower() if ch.isalnum())
    if flat in _REFERENCE_KEYS:
        return True
    return any(
        flat.endswith(suffix) and len(flat) > len(suffix) and secret_key(flat[: -len(suffix)])
        for suffix in _REFERENCE_SUFFIXES
    )


def _kubeconfig_credentials(text: str) -> list[str]:
    """The credentials a kubeconfig embeds (``users[].user.token``, ``client-key-data``,
    ``password``): one that runs ``exec`` (aws eks get-token, gke-gcloud-auth-plugin)
    carries none and is no secret."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return ["(unparsable kubeconfig)"]
    found = []
    users = doc.get("users") if isinstance(doc, dict) else None
    for user in users if isinstance(users, list) else []:
        fields = user.get("user") if isinstance(user, dict) else None
        for field, value in (fields if isinstance(fields, dict) else {}).items():
            if (secret_key(field) or field == "client-key-data") and value:
                found.append(f"users[].user.{field}")
    return found


def _walk(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """``(path, last key, value)`` for every string in ``value``; unknowns skipped (an
    output of another resource is not a literal)."""
    if isinstance(value, Mapping):
        for key in list(value):
            try:
                child = value[key]
            except UnknownValueError:
                continue
            yield from _walk_child(child, f"{path}.{key}" if path else str(key), str(key))
    elif is_list(value):
        for i in range(len(value)):
            try:
                child = value[i]
            except UnknownValueError:
                continue
            yield from _walk_child(child, f"{path}[{i}]", None)


def _walk_child(child: Any, path: str, key: str | None) -> Iterator[tuple[str, str, Any]]:
    if isinstance(child, str):
        yield path, key or "", child
    else:
        yield from _walk(child, path)


def _no_secret_literals(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    provider_secret = set(args.opts.additional_secret_outputs or []) if args.opts else set()
    fix = (
        "remove the literal, put the value in the stack's encrypted config "
        "(`pulumi config set --secret <key>`, listed in blueprint.schema.SECRET_KEYS) and "
        "pass Pulumi's secret Output (it shows as [secret]); rotate the credential if it "
        "was ever committed"
    )
    for path, key, text in _walk(args.props, ""):
        if text == MASK or path.split(".", 1)[0].split("[", 1)[0] in provider_secret:
            continue
        shapes = credential_shapes(text)
        if key.lower() == "kubeconfig":
            embedded = _kubeconfig_credentials(text)
            if embedded:
                report(
                    message(
                        args,
                        path,
                        REDACTED,
                        f"a kubeconfig with a credential in clear text ({', '.join(embedded)})",
                        "authenticate with exec (aws eks get-token, gke-gcloud-auth-plugin) "
                        "or pass the kubeconfig as a Pulumi secret",
                    ),
                    None,
                )
                continue
        if shapes:
            report(
                message(
                    args,
                    path,
                    REDACTED,
                    f"holds {' and '.join(shapes)} in clear text",
                    fix,
                ),
                None,
            )
        elif (
            key
            and key.lower() != "kubeconfig"
            and secret_key(key)
            and not _names_a_reference(key)
            and text.strip().lower() not in _NOT_SECRET_VALUES
        ):
            report(
                message(
                    args,
                    path,
                    REDACTED,
                    f"'{key}' names secret material but holds a plain string, not a Pulumi secret",
                    fix,
                ),
                None,
            )


NO_SECRET_LITERALS = resource_policy(
    name="no-secret-literals",
    domain="security",
    description="No secret in clear text in resource inputs: no plain string under a "
    "password/token/secret/apiKey/webhook key, no AWS access key id, Slack webhook URL, "
    "PagerDuty key, PEM private key or GitHub token anywhere; Pulumi secrets pass.",
    level=Level.MANDATORY,
    fix="Set the value with `pulumi config set --secret` and pass the secret Output.",
    check=_no_secret_literals,
    config=NoConfig,
)

POLICIES = [NO_SECRET_LITERALS]
