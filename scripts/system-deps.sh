#!/usr/bin/env bash
# Installs the Debian packages the local stack and the tests use (Prometheus and
# promtool, Alertmanager and amtool, libb64 for perf_analyzer) when they are
# missing. As root it installs them; otherwise it says what to install.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages enable system services; the blueprint starts its own
  # loopback instances with its own config, so stop any that came up.
  for svc in prometheus prometheus-alertmanager; do
    command -v service >/dev/null && service "$svc" stop >/dev/null 2>&1 || true
  done
else
  echo "error: missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
