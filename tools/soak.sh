#!/usr/bin/env bash
# tools/soak.sh - builds the soak (soak/, a standalone project) in Release without sanitizers and
# runs it: continuous submits to both pools with random cancel/timeout/crash; fails on a wrong
# outcome, a hang, RSS growth above 1.1x or a descriptor leak (see soak/soak.cpp).
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#
# Usage: bash tools/soak.sh [seconds]    (1..300, default 60; CI uses the default)
# Needs cmake and g++ (CXX=... picks another compiler). Builds in build/soak.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds >= 1 && seconds <= 300)) ||
  { echo "tools/soak.sh: seconds must be 1..300, got '$seconds'" >&2; exit 2; }

cxx=${CXX:-g++}
command -v cmake >/dev/null || { echo "tools/soak.sh: cmake not found" >&2; exit 2; }
command -v "$cxx" >/dev/null || { echo "tools/soak.sh: $cxx not found" >&2; exit 2; }

# No sanitizer may come in from the environment: ASan's quarantine alone grows RSS.
env -u CXXFLAGS -u LDFLAGS cmake -S soak -B build/soak -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$(command -v "$cxx")" -DCMAKE_CXX_FLAGS= -DCONCUR_SOAK_WERROR=ON >/dev/null
cmake --build build/soak -j2 >/dev/null
echo "==> concur_soak --seconds $seconds ($cxx, Release)"
exec build/soak/concur_soak --seconds "$seconds"
