#!/usr/bin/env bash
# Cron job: enqueue tonight's report, once, with a bearer token.
#   crontab: 0 2 * * *  BAI_ENDPOINT=http://bai:8091 BAI_TOKEN=bai_… /opt/jobs/cron-nightly.sh
# The name carries the date, so a second run the same night (cron retried, two hosts) gets the
# same session back ("created": false) instead of a duplicate. The command must not contain '"'.
set -euo pipefail
: "${BAI_ENDPOINT:?set BAI_ENDPOINT}" "${BAI_TOKEN:?set BAI_TOKEN}"
name="nightly-report-$(date -u +%Y%m%d)"
command=${BAI_COMMAND:-python3 /home/work/reports/nightly.py}
curl -sS --fail-with-body -X POST "$BAI_ENDPOINT/session" \
  -H "Authorization: Bearer $BAI_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"name\": \"$name\", \"image\": \"python\", \"type\": \"batch\", \"enqueueOnly\": true,
       \"startupCommand\": \"$command\", \"batch_timeout\": \"2h\", \"tag\": \"nightly\", \"priority\": 20}"
echo
