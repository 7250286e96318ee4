// Evaluate IAM requests with @cloud-copilot/iam-simulate.
// stdin: {"principal": ARN, "account": id, "policies": [{"name", "policy"}], "requests":
//         [{"action", "resource", "context", "principal"?, "policies"?, "resourcePolicy"?}]}
//         A request's own principal and identity policies replace the top-level ones; its
//         resourcePolicy is the policy of the resource it reaches (a topic, key, bucket, queue).
// stdout: one {"decision": "Allowed"|"ImplicitlyDenied"|"ExplicitlyDenied"|"Invalid", "detail"}
//         per request, in order. Called by hangar.aws.permissions; not a user-facing command.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const decisions = []
for (const request of input.requests) {
  const response = await runSimulation(
    {
      identityPolicies: request.policies ?? input.policies ?? [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: request.resourcePolicy,
      request: {
        action: request.action,
        principal: request.principal ?? input.principal,
        resource: { accountId: input.account, resource: request.resource },
        contextVariables: request.context ?? {},
      },
    },
    {},
  )
  if (response.resultType === 'error') {
    // An unknown action, an ARN of the wrong type for it, a malformed policy: never "allowed".
    decisions.push({ decision: 'Invalid', detail: JSON.stringify(response.errors) })
  } else {
    decisions.push({ decision: response.overallResult, detail: '' })
  }
}
process.stdout.write(JSON.stringify(decisions))
