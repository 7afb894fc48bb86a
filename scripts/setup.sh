#!/usr/bin/env bash
# Installs every Debian package that ERN's build, tests, benchmarks and data preparation use.
# Idempotent: packages already present are skipped, and apt is only called when something is missing.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake make ninja-build clang-format pkg-config
  # libraries
  libtorch-dev libopenblas0-openmp libopencv-dev libspdlog-dev libyaml-cpp-dev nlohmann-json3-dev
  libsqlite3-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcivetweb-dev libgtest-dev libssl-dev
  # checks and reference implementations used by the tests
  python3 python3-numpy python3-torch python3-skimage python3-grpcio prometheus
  # natural photographs for training and evaluation (copied by scripts/prepare-data.sh)
  opencv-doc
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
