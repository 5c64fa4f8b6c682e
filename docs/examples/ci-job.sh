#!/usr/bin/env bash
# CI step: submit a batch job to bai, wait for it, print its output, and fail when it failed.
#   BAI_ENDPOINT=http://bai:8091 BAI_TOKEN=bai_… ci-job.sh NAME 'python -m pytest -q'
# Needs only bash, curl and sed. Exit status: the job's own exit code (1 if it never ran).
# BAI_IDEMPOTENCY_KEY (default: ci-$CI_JOB_ID when CI_JOB_ID is set): one key per attempt of the
# step. The submit is then repeated on a lost answer, timeout or 503, and the step run again
# with the same key answers the session it created (its result, without running it again).
set -euo pipefail
: "${BAI_ENDPOINT:?set BAI_ENDPOINT}" "${BAI_TOKEN:?set BAI_TOKEN}"
name=${1:?job name}
command=${2:?command}
image=${BAI_IMAGE:-python}
timeout=${BAI_BATCH_TIMEOUT:-30m}
key=${BAI_IDEMPOTENCY_KEY:-${CI_JOB_ID:+ci-$CI_JOB_ID}}
submit_opts=()
if [ -n "$key" ]; then submit_opts=(--retry 5 --retry-connrefused -H "Idempotency-Key: $key"); fi

api() { curl -sS --fail-with-body -H "Authorization: Bearer $BAI_TOKEN" "$@"; }
field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n1; }
json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# Submit. reuseIfExists false: a new attempt of the step must not attach to the previous one's
# live session (a new attempt has a new key; the same attempt, the same key, answers its own).
if ! answer=$(api ${submit_opts[@]+"${submit_opts[@]}"} -X POST "$BAI_ENDPOINT/session" -H 'Content-Type: application/json' \
  -d "{\"name\": $(json_string "$name"), \"image\": $(json_string "$image"), \"type\": \"batch\",
       \"enqueueOnly\": true, \"reuseIfExists\": false, \"tag\": \"ci\",
       \"startupCommand\": $(json_string "$command"), \"batchTimeout\": $(json_string "$timeout")}"); then
  echo "submit failed: $answer" >&2 # problem+json: type, title, msg
  exit 1
fi
id=$(printf '%s' "$answer" | field sessionId)
echo "submitted $name ($id)" >&2

# Wait until it ends (GET /events/session?sessionId=… streams the same transitions as SSE).
while :; do
  info=$(api "$BAI_ENDPOINT/session/$id")
  status=$(printf '%s' "$info" | field status)
  case $status in TERMINATED | CANCELLED) break ;; esac
  sleep 2
done

# Its output, then its verdict.
logs=$(api "$BAI_ENDPOINT/session/$id/logs" | sed -n 's/^{"result":{"logs":"\(.*\)"\(,"truncated":[a-z]*,"totalBytes":[0-9a-z]*\)\{0,1\}}}$/\1/p' | sed 's/\\"/"/g')
printf '%b' "$logs"
result=$(printf '%s' "$info" | field result)
code=$(printf '%s' "$info" | field exitCode)
reason=$(printf '%s' "$info" | field statusInfo)
echo "$name: $status $result (${reason:-}), exit code ${code:-none}" >&2
if [ "$result" = SUCCESS ]; then exit 0; fi
case $code in '' | null | 0) exit 1 ;; -*) exit 1 ;; *) exit "$code" ;; esac
