#!/usr/bin/env bash
# tools/model.sh - model-checks model/future.pml (a future's state machine and its Parker) with
# spin: an exhaustive safety search (assertions, invalid end states: no double completion, each
# callback once, no lost wake-up, no cancel after running), then a search for cycles (-DNP:
# every execution ends, so no waiter can wait forever). Exits non-zero on any error.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#
# Usage: bash tools/model.sh             the model as the code is
#        bash tools/model.sh --mutant    each mutant of the model (future.pml lists them) must
#                                        fail: proves the checks can fail
# Needs spin (Debian package "spin", installed with apt-get when missing) and gcc.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
mode=${1:-}
[[ -z $mode || $mode == --mutant ]] || { echo "usage: tools/model.sh [--mutant]" >&2; exit 2; }

if ! command -v spin >/dev/null; then
  echo "==> installing spin (apt-get)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y spin >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y spin >/dev/null; }
fi
command -v gcc >/dev/null || { echo "tools/model.sh: gcc not found" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$root/model/future.pml" "$tmp/"
cd "$tmp"

# search <name> <spin -D flags> <gcc flags> <pan flags>: runs one search; prints its summary;
# returns 0 when pan found no error, 1 when it did, 2 when the search itself went wrong.
search() {
  local name=$1 defines=$2 cflags=$3 panflags=$4
  rm -f pan pan.c future.pml.trail
  # shellcheck disable=SC2086
  spin $defines -a future.pml >spin.out 2>&1 || { cat spin.out; return 2; }
  # shellcheck disable=SC2086
  gcc -O2 -w $cflags -o pan pan.c || return 2
  # shellcheck disable=SC2086
  ./pan $panflags >"pan-$name.out" 2>&1 || true
  local out="pan-$name.out" errors states depth
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | head -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | head -1)
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$out" | head -1)
  if [ -z "$errors" ] || grep -q "max search depth too small\|out of memory" "$out"; then
    echo "    $name: the search did not complete"; cat "$out"; return 2
  fi
  local first
  first=$(grep -m1 -E '^pan:[0-9]+:' "$out" || true)
  echo "    $name: $states states, depth $depth, errors: $errors${first:+ ($first)}"
  if [ "$errors" != 0 ] && [ -f future.pml.trail ]; then
    # shellcheck disable=SC2086
    spin $defines -t -p future.pml >"trail-$name.txt" 2>&1 || true
  fi
  [ "$errors" = 0 ]
}

started=$SECONDS
status=0
if [ -z "$mode" ]; then
  echo "==> spin: model/future.pml (safety: assertions, invalid end states)"
  search safety "" "-DSAFETY" "-m100000 -n" || status=1
  echo "==> spin: model/future.pml with 1 waiter, 2 callbacks, 2 spurious wake-ups (safety)"
  search safety-2cb "-DNWAITERS=1 -DNCALLBACKS=2 -DSPURIOUS=2" "-DSAFETY" "-m100000 -n" || status=1
  echo "==> spin: model/future.pml (non-progress cycles: every execution ends)"
  search cycles "" "-DNP" "-l -m100000 -n" || status=1
  [ $status -eq 0 ] && echo "==> model: OK ($((SECONDS - started)) s)" || echo "==> model: FAILED"
else
  echo "==> spin: mutants of model/future.pml (each must fail)"
  for m in MUTANT_NO_RECHECK MUTANT_NO_UNPARK MUTANT_UNLOCKED_NOTIFY MUTANT_BLIND_ASLEEP \
           MUTANT_CANCEL_RUNNING; do
    rc=0
    search "$m" "-D$m" "-DSAFETY" "-m100000 -n" || rc=$?
    if [ $rc -eq 0 ]; then
      echo "    $m: NOT caught"; status=1
    elif [ $rc -eq 2 ]; then
      status=1
    else
      # Where the counterexample ends: the processes not at a valid end state.
      sed -n '/^#processes/,$p' "trail-$m.txt" 2>/dev/null | grep -E '^ *[0-9]+:[[:space:]]+proc' |
        grep -v 'valid end state' | sed 's/^/      /' || true
    fi
  done
  [ $status -eq 0 ] && echo "==> mutants: all caught ($((SECONDS - started)) s)" || echo "==> mutants: FAILED"
fi
exit $status
