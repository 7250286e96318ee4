// Evaluate IAM requests with @cloud-copilot/iam-simulate: a principal's identity policies, and
// optionally its permissions boundaries and the resource's policy (a role's trust policy, a topic's,
// a key's, a bucket's or a queue's policy).
// stdin: {"principal": ARN, "account": id, "policies": [{"name", "policy"}],
//         "boundaries": [{"name", "policy"}]?, "resourcePolicy": {...}?,
//         "requests": [{"action", "resource", "context", "principal"?, "policies"?,
//                       "resourcePolicy"?}]}
//         A request's own principal, identity policies and resource policy replace the top-level
//         ones (a service principal reaching a resource, say).
// stdout: one {"decision": "Allowed"|"ImplicitlyDenied"|"ExplicitlyDenied"|"Invalid", "detail"}
//         per request, in order. Called by hangar.aws.permissions; not a user-facing command.
//
// A condition key the simulator does not know for the action would be dropped silently, and the
// condition then judged on a missing key: that is reported Invalid, never a decision. Two families
// are known to IAM but not matched from the AWS service reference the simulator reads: an OIDC
// provider's `<provider>:aud` and `<provider>:sub`, which every web-identity trust policy tests,
// and KMS's `kms:EncryptionContext:<key>` (a templated key), which a key policy for CloudWatch
// Logs tests. For those the already validated simulation runs again without the key check.
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

// [the actions, the condition keys IAM knows for them that the simulator does not list]
const UNLISTED_KEYS = [
  [/^sts:AssumeRoleWithWebIdentity$/i, /^[a-z0-9.-]+(\/[^:]*)?:(aud|sub)$/i],
  [/^kms:/i, /^kms:EncryptionContext:.+$/i],
]

function unlistedFor(action, key) {
  return UNLISTED_KEYS.some(([actions, keys]) => actions.test(action) && keys.test(key))
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))

function simulationOf(request) {
  return {
    identityPolicies: request.policies ?? input.policies ?? [],
    permissionBoundaryPolicies: input.boundaries,
    resourcePolicy: request.resourcePolicy ?? input.resourcePolicy,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action: request.action,
      principal: request.principal ?? input.principal,
      resource: { accountId: input.account, resource: request.resource },
      contextVariables: request.context ?? {},
    },
  }
}

function ignoredKeys(response) {
  const results = response.resultType === 'single' ? [response.result] : response.results
  return [...new Set(results.flatMap((result) => result.ignoredContextKeys ?? []))]
}

// runUnsafeSimulation names a resource policy only when it comes as an already validated one.
function validated(policy, name) {
  return policy && { __validated: true, policyDocument: policy, metadata: { name }, errors: [] }
}

async function decide(request) {
  const simulation = simulationOf(request)
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    // An unknown action, an ARN of the wrong type for it, a malformed policy: never "allowed".
    return { decision: 'Invalid', detail: JSON.stringify(response.errors) }
  }
  const ignored = ignoredKeys(response)
  const unlisted = ignored.filter((key) => unlistedFor(request.action, key))
  if (ignored.length > unlisted.length) {
    const unknown = ignored.filter((key) => !unlisted.includes(key))
    return { decision: 'Invalid', detail: `condition keys unknown for ${request.action}: ${unknown}` }
  }
  if (unlisted.length === 0) return { decision: response.overallResult, detail: '' }
  const decision = runUnsafeSimulation(
    { ...simulation, resourcePolicy: validated(simulation.resourcePolicy, 'ResourcePolicy') },
    {},
  )
  return { decision, detail: '' }
}

const decisions = []
for (const request of input.requests) decisions.push(await decide(request))
process.stdout.write(JSON.stringify(decisions))
