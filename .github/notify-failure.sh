#!/usr/bin/env bash
# Tell people a deploy failed: Slack when the SLACK_WEBHOOK_URL secret is set, the job summary always.
# Inputs come from the environment (STAGE, IMAGE_TAG, RUN_URL, SLACK_WEBHOOK_URL) so no workflow
# expression is ever pasted into shell code.
set -euo pipefail

message="Deploy of ${IMAGE_TAG} to ${STAGE} failed: ${RUN_URL}"
{
  echo "## :x: Deploy failed"
  echo
  echo "| stage | image tag | run |"
  echo "| --- | --- | --- |"
  echo "| ${STAGE} | \`${IMAGE_TAG}\` | ${RUN_URL} |"
} >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"

if [[ -n "${SLACK_WEBHOOK_URL:-}" ]]; then
  jq -n --arg text "$message" '{text: $text}' |
    curl --fail --silent --show-error --max-time 15 \
      -H 'Content-Type: application/json' --data @- "$SLACK_WEBHOOK_URL"
else
  echo "SLACK_WEBHOOK_URL is not set: the failure is reported in the job summary only." >&2
fi
