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
"""Map of cluster name -> {cloud, region, clusterName, endpoint, kubeconfig} plus, on EKS,
{oidcProviderArn, oidcIssuer} (IRSA) and, on GKE, {workloadPool} (Workload Identity).
``kubeconfig`` is secret (exec-based: ``aws eks get-token`` or ``gke-gcloud-auth-plugin``);
read it with ``pulumi stack output clusters --show-secrets``."""
GPU_POOLS: Final = "gpuPools"
"""Map of pool name -> {cluster, cloud, tier, gpuModel, instanceTypes, onDemandFloorNodes,
maxNodes, ceilingGpus, capacityTypes, migLayout, labels}: the GPU capacity a stack offers
(``gpuModel`` and ``migLayout`` only where the pool has them)."""
MODEL_DEPLOYMENTS: Final = "modelDeployments"
"""Map of deployment name -> {cluster, repoModels, variant}: what the stack serves."""
CORE_STACK: Final = "coreStack"
"""On the edge stack: the fully qualified name of the core stack it delegates to."""
MODEL_REPOSITORIES: Final = "modelRepositories"
"""Map of cloud -> URI (s3://... or gs://...) of the content-addressed snapshot of
model_repo/ that Triton pods and serverless endpoints load."""
TRITON_SERVICES: Final = "tritonServices"
"""Map of model deployment -> the name of its Triton Service (namespace ``llm-serving``)."""
LLM_SERVICES: Final = "llmServices"
"""Map of LLM deployment -> {service, servedModelName, api}: vLLM's OpenAI-compatible
server (namespace ``llm-serving``, port 8000, ``/v1/chat/completions``)."""
PARKED_DEPLOYMENTS: Final = "parkedDeployments"
"""Model deployments with ``replicas.min: 0``: no pods and no autoscaler (an HPA cannot
scale from zero), so they serve nothing until replicas.min is raised or they are
scaled by hand."""
MODEL_PINS: Final = "modelPins"
"""Map of repo model -> {versions, digest}: what the stack serves, by content. The edge
compares its own with the core's so both serve the same model versions."""
ROUTING: Final = "routing"
"""{header, defaultClass, classes: {class: tier}}: the request classes the stack routes."""
SERVERLESS_ENDPOINTS: Final = "serverlessEndpoints"
"""Map of endpoint name -> {cloud, name}: SageMaker endpoint names, Vertex endpoint ids."""
DNS_ZONE_ID: Final = "dnsZoneId"
"""On the core: the Route 53 hosted zone of the API name (the edge adds its record)."""
DNS_NAME_SERVERS: Final = "dnsNameServers"
"""On the core: the name servers the parent zone must delegate to."""
API_HOSTNAME: Final = "apiHostname"
"""The API name clients use, the same in every region."""
GATEWAY_ADDRESS: Final = "gatewayAddress"
"""The stack's own gateway address (load balancer); the edge delegates to the core's."""
EDGE_ALIGNMENT: Final = "edgeAlignment"
"""On the edge: the result of checking its models and classes against the core's."""
