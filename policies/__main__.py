"""The policy pack, as ``pulumi preview --policy-pack policies`` runs it.

Only assembles the pack: the policies live in importable modules (policies.cost,
policies.reliability, policies.security) so that tests and the offline preview
can run them without this file, which starts a gRPC server and blocks.

Pulumi runs this file with policies/ as the script directory, so ``policies.*``
and ``blueprint.*`` are not found next to it: they come from the installed
``llm-inference-blueprint`` distribution in the pack's own virtualenv
(PulumiPolicy.yaml: ``venv``; requirements.txt says which release, README.md how
it is built). Nothing here edits ``sys.path``.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.registry import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Cost, reliability and security guardrails for the LLM inference blueprint.",
)
