"""The blueprint's CrossGuard policy pack: cost, reliability and security guardrails.

Rules live in importable modules by domain (``cost``, ``reliability``,
``security``); :mod:`policies.registry` lists them; ``__main__.py`` only
assembles the pack for ``pulumi preview --policy-pack policies``. The offline
preview evaluates the same policies against the recorded plan
(:mod:`policies.engine`), so a violation looks the same with or without the
Pulumi CLI. Constructing a ``PolicyPack`` starts a gRPC server and blocks:
nothing here but ``__main__.py`` does it.
"""
