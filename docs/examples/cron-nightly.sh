#!/usr/bin/env bash
# Cron job: enqueue tonight's report, once, with a bearer token.
#   crontab: 0 2 * * *  BAI_ENDPOINT=http://bai:8091 BAI_TOKEN=bai_… /opt/jobs/cron-nightly.sh
# The key is the night (UTC): every run that night (cron retried, two hosts, curl repeating a
# request whose answer was lost, a rerun by hand the next morning) gets the night's one session
# back ("created": false, with its status and result), also once it ended. The manager keeps
# keys 7 days (BAI_IDEMPOTENCY_RETENTION_SECONDS), per keypair. The command must not contain '"'.
set -euo pipefail
: "${BAI_ENDPOINT:?set BAI_ENDPOINT}" "${BAI_TOKEN:?set BAI_TOKEN}"
night=$(date -u +%Y%m%d)
command=${BAI_COMMAND:-python3 /home/work/reports/nightly.py}
curl -sS --fail-with-body --retry 5 --retry-connrefused -X POST "$BAI_ENDPOINT/session" \
  -H "Authorization: Bearer $BAI_TOKEN" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: nightly-report-$night" \
  -d "{\"name\": \"nightly-report-$night\", \"image\": \"python\", \"type\": \"batch\", \"enqueueOnly\": true,
       \"startupCommand\": \"$command\", \"batch_timeout\": \"2h\", \"tag\": \"nightly\", \"priority\": 20}"
echo
