#!/usr/bin/env bash
# Installs every Debian package that ERN's build, tests, benchmarks and data preparation use.
# Idempotent: packages already present are skipped, and apt is only called when something is missing.
#
# usage: scripts/setup.sh            everything (build, tests, benchmarks, data)
#        scripts/setup.sh --runtime  only the shared libraries the built binaries load (the slim
#                                    stage of docker/'s images)
set -euo pipefail

runtime_packages=(
  libtorch1.13 libdnnl2 libopenblas0-openmp libopencv-imgcodecs406 libdeflate0 libisal2 libopencv-photo406 libspdlog1.10
  libyaml-cpp0.7 libsqlite3-0 libgrpc++1.51 libprotobuf32 libcivetweb1 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libssl3 ca-certificates
  openssl  # scripts/make-dev-pki.sh (the compose `pki` service)
)

packages=(
  # toolchain
  g++ cmake make ninja-build clang-format pkg-config
  clang libclang-rt-14-dev  # libFuzzer and the sanitizers (fuzz/, scripts/fuzz.sh)
  # libraries
  libtorch-dev libdnnl-dev libgloo-dev libopenblas0-openmp libopencv-dev libdeflate-dev libisal-dev libspdlog-dev libyaml-cpp-dev nlohmann-json3-dev
  libsqlite3-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcivetweb-dev prometheus-cpp-dev libgtest-dev libssl-dev openssl
  # checks and reference implementations used by the tests
  python3 python3-numpy python3-torch python3-skimage python3-pil python3-grpcio python3-protobuf python3-yaml python3-matplotlib prometheus yamllint
  # natural photographs for training and evaluation (scripts/data-split.tsv, copied and downscaled by
  # scripts/prepare-data.sh)
  opencv-doc lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 palapeli-data plasma-workspace-wallpapers
)

case "${1:-}" in
  --runtime) packages=("${runtime_packages[@]}") ;;
  "") ;;
  *)
    echo "setup: unknown option '$1' (use --runtime or nothing)" >&2
    exit 2
    ;;
esac

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
