#!/usr/bin/env bash
# Installs what bai needs on a fresh Debian machine, only when it is missing: a Docker engine,
# redis-server, a PostgreSQL server (tests), mmdebstrap (the python image) and, for the
# registry tests, docker-registry and htpasswd; openssl for the TLS tests; chromium for the web console's
# browser test (driven by playwright-core, nothing downloaded at test time). Needs root (or sudo) for apt-get.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
# The TLS tests make their certificates with the openssl CLI (Debian's redis-server has TLS built in).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# test/integration/console.test.ts drives Debian's Chromium at /usr/bin/chromium.
[ -x /usr/bin/chromium ] || need+=(chromium)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql-15); fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages start their services where systemd runs; bai starts its own, by pid.
