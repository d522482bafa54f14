#!/usr/bin/env bash
# Headless Chromium for the report tests and bench (`liftos report` pages are checked in a real
# browser). Debian's `chromium` package, installed only when no chromium is on PATH and
# LIFTOS_CHROMIUM names none; Playwright drives it (no browser download of its own).
set -euo pipefail
if [ -n "${LIFTOS_CHROMIUM:-}" ] && [ -x "${LIFTOS_CHROMIUM}" ]; then exit 0; fi
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and this is not a Debian/Ubuntu machine: install Chromium and set LIFTOS_CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing Debian package chromium (report tests)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
