"""The policy pack, as ``pulumi preview --policy-pack policies`` runs it.

Only assembles the pack: the policies live in importable modules (policies.cost,
policies.reliability, policies.security) so that tests and the offline preview
can run them without this file, which starts a gRPC server and blocks.
"""

import sys
from pathlib import Path

# Pulumi runs this file with policies/ as the script directory; the policies import
# the blueprint package from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.registry import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Cost, reliability and security guardrails for the LLM inference blueprint.",
)
