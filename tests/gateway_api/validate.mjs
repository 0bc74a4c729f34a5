// Reads a JSON list of Gateway API objects on stdin and validates each against the
// Gateway API CRD schema of its kind. Prints one JSON line per object:
// {"kind", "name", "ok", "errors"}. Exit status 1 when any object is invalid.
import { Gateway } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway";
import { GatewayClass } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GatewayClass";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { ReferenceGrant } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/ReferenceGrant";

const MODELS = {
  "gateway.networking.k8s.io/v1/Gateway": Gateway,
  "gateway.networking.k8s.io/v1/GatewayClass": GatewayClass,
  "gateway.networking.k8s.io/v1/HTTPRoute": HTTPRoute,
  "gateway.networking.k8s.io/v1beta1/ReferenceGrant": ReferenceGrant,
};

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const docs = JSON.parse(Buffer.concat(chunks).toString("utf8"));
let failed = false;
for (const doc of docs) {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  const name = doc.metadata?.name;
  if (!Model) {
    console.log(JSON.stringify({ kind: doc.kind, name, ok: false, errors: [`no schema for ${doc.apiVersion}/${doc.kind}`] }));
    failed = true;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(JSON.stringify({ kind: doc.kind, name, ok: true, errors: [] }));
  } catch (err) {
    failed = true;
    console.log(JSON.stringify({ kind: doc.kind, name, ok: false, errors: [String(err.message)] }));
  }
}
process.exit(failed ? 1 : 0);
