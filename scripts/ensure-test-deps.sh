#!/usr/bin/env bash
# Brings up what the test suites need on a fresh Debian machine, or fails loudly saying what is missing.
# npm test runs it first (pretest); CI runs npm test. Nothing is skipped when a part is missing.
set -euo pipefail

# command  -> Debian package that provides it
declare -A NEEDS=(
  [gcc]=gcc
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [amtool]=prometheus-alertmanager
  [influxd]=influxdb
  [chromium]=chromium
  [openssl]=openssl
)

missing=()
for cmd in "${!NEEDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDS[$cmd]}")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "ensure-test-deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-test-deps: FAILED: the tests need ${missing[*]} (Debian packages) and this user cannot apt-get install them" >&2
    exit 1
  fi
  # Packages that ship a service (prometheus) must not start it: the suites start their own on
  # loopback. invoke-rc.d and deb-systemd-invoke ask policy-rc.d; deny starts while apt runs.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2; then
    echo "ensure-test-deps: FAILED to install ${missing[*]}" >&2
    exit 1
  fi
fi

for cmd in "${!NEEDS[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "ensure-test-deps: FAILED: $cmd is still missing after the install" >&2
    exit 1
  fi
done
echo "ensure-test-deps: ok (${!NEEDS[*]})" >&2
