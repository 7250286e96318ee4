#!/usr/bin/env bash
# Tell people a deploy failed: Slack when the SLACK_WEBHOOK_URL secret is set, the job summary always.
# Inputs come from the environment (STAGE, IMAGE_TAG, RUN_URL, OUTCOME, SLACK_WEBHOOK_URL) so no
# workflow expression is ever pasted into shell code. OUTCOME is the job's status: failure, or
# cancelled (by hand, or by the job's timeout).
set -euo pipefail

outcome="${OUTCOME:-failure}"
message="Deploy of ${IMAGE_TAG} to ${STAGE} did not complete (${outcome}): ${RUN_URL}"
{
  echo "## :x: Deploy did not complete: ${outcome}"
  echo
  echo "| stage | image tag | outcome | run |"
  echo "| --- | --- | --- | --- |"
  echo "| ${STAGE} | \`${IMAGE_TAG}\` | ${outcome} | ${RUN_URL} |"
} >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"

if [[ -n "${SLACK_WEBHOOK_URL:-}" ]]; then
  jq -n --arg text "$message" '{text: $text}' |
    curl --fail --silent --show-error --max-time 15 \
      -H 'Content-Type: application/json' --data @- "$SLACK_WEBHOOK_URL"
else
  echo "SLACK_WEBHOOK_URL is not set: the failure is reported in the job summary only." >&2
fi
