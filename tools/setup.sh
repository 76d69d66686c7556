#!/usr/bin/env bash
# Installs everything Zama needs to build, test and benchmark, from Debian 12
# packages only. A no-op (no apt-get at all) when every package is present.
# Run as root, or as a user that may sudo.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git
  # libraries
  liburing-dev libssl-dev libboost-dev libtomlplusplus-dev libcli11-dev
  libfmt-dev libspdlog-dev libabsl-dev libxxhash-dev libjemalloc-dev libisal-dev
  # tests, fuzzing, benchmarks, profiling
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  clang-format clang-tidy valgrind linux-perf
  # real MQTT peers for integration tests and side-by-side benchmarks
  mosquitto mosquitto-clients python3 python3-paho-mqtt python3-pytest
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts the mosquitto service on install; Zama's benchmarks start
# their own mosquitto on an ephemeral port, so keep the system one out of the way.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  $sudo systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
