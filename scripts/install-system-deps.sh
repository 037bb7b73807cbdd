#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo run for real: InfluxDB 1.x (influxd),
# nats-server (JetStream, distributed mode), mosquitto-clients (mosquitto_pub in tests) and
# mosquitto (the reference broker of `sluice bench --mode load`);
# and the tools tests call that Debian images usually have: openssl (test CAs for mTLS),
# util-linux (prlimit: a descriptor limit) and mount (a small tmpfs for full-disk tests).
set -euo pipefail
packages=(influxdb nats-server mosquitto-clients mosquitto openssl util-linux mount)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: ${packages[*]}"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
