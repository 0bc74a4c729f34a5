"""Names of the stack outputs the composition root exports.

Other stacks read them by StackReference (the edge reads the core's), and tests
and tools read them from the offline plan; all use these constants.
"""

from typing import Final

ENVIRONMENT: Final = "environment"
"""The stack's environment (dev, staging, prod, edge)."""
AWS_REGION: Final = "awsRegion"
AWS_VPC_ID: Final = "awsVpcId"
AWS_PRIVATE_SUBNET_IDS: Final = "awsPrivateSubnetIds"
GCP_PROJECT: Final = "gcpProject"
GCP_NETWORK: Final = "gcpNetwork"
CLUSTERS: Final = "clusters"
"""Map of cluster name -> {cloud, region, clusterName, endpoint} plus, on EKS,
{oidcProviderArn, oidcIssuer} (IRSA) and, on GKE, {workloadPool} (Workload Identity)."""
GPU_POOLS: Final = "gpuPools"
"""Map of pool name -> {cluster, cloud, tier, gpuModel, instanceTypes, onDemandFloorNodes,
maxNodes, ceilingGpus, capacityTypes, migLayout, labels}: the GPU capacity a stack offers."""
MODEL_DEPLOYMENTS: Final = "modelDeployments"
"""Map of deployment name -> {cluster, repoModels, variant}: what the stack serves."""
CORE_STACK: Final = "coreStack"
"""On the edge stack: the fully qualified name of the core stack it delegates to."""
