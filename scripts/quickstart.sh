#!/usr/bin/env bash
# The first-time path on a fresh machine: install what is missing, build, start the whole
# stack (bai up), and run the hello job. Stop the stack with: node bin/bai.js down
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-prereqs.sh
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund; fi
npm run --silent build
node bin/bai.js up
node bin/bai.js run -c 'print("hello")' python
