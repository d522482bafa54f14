#!/usr/bin/env bash
# PostgreSQL's server for the memory store's tests and bench (tests/memory/test_store_contract.py
# starts a throwaway cluster: initdb in a temp dir, pg_ctl on a free port, no system service).
# Debian's `postgresql` package, installed only when no initdb is found: on PATH, in
# LIFTOS_PG_BIN, or under /usr/lib/postgresql/*/bin where the package puts the server tools.
set -euo pipefail
if [ -n "${LIFTOS_PG_BIN:-}" ] && [ -x "${LIFTOS_PG_BIN}/initdb" ]; then exit 0; fi
if command -v initdb >/dev/null 2>&1; then exit 0; fi
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL is missing and this is not a Debian/Ubuntu machine: install its server and set LIFTOS_PG_BIN=/path/to/its/bin" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing Debian package postgresql (memory store tests)"
$SUDO apt-get update -qq
# (the package may create a system cluster of its own; the tests never use it)
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
