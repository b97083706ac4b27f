#!/usr/bin/env bash
# Installs the npm packages the client tests run (e2e/clients/testdata: Apollo Client,
# graphql-ws, graphql-http, graphql-schema-linter), exactly as package-lock.json pins them,
# unless they are already installed from that lock. Idempotent; make test runs it first.
# Needs Node.js 20.19 or later and npm.
set -euo pipefail
cd "$(dirname "$0")/../e2e/clients/testdata"

if ! command -v npm >/dev/null 2>&1; then
  echo "ensure-node-deps: npm is missing; install Node.js 20.19 or later (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
# npm ci writes node_modules/.package-lock.json; when it matches the lock, nothing changed.
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "ensure-node-deps: e2e/clients/testdata/node_modules is up to date"
  exit 0
fi
echo "ensure-node-deps: npm ci in e2e/clients/testdata"
npm ci --no-audit --no-fund
