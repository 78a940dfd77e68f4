#!/usr/bin/env bash
# README command 2: the whole test suite, as root on a Debian machine.
#   unit -> module integration (both pyroute2s) -> lab -> sanity -> lint -> molecule -> reliability
# Every step runs even when an earlier one failed; the exit status is non-zero if any failed.
# Select steps with e.g. `scripts/test.sh unit integration`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
# The demo runs from a path with a blank (tests/lab/test_checkout_paths.py); the suite's own
# tools (ansible-test, molecule's scenario variables) have not been tried from one.
if [[ "$root" =~ [[:space:]] || "$(pwd -P)" =~ [[:space:]] ]]; then
  echo "scripts/test.sh: '$root' holds a blank; run the test suite from a checkout whose path has" \
       "none (for example /tmp/crossnet); scripts/demo.sh works from either" >&2
  exit 2
fi

bash scripts/bootstrap.sh || { echo "bootstrap failed"; exit 1; }
export PATH="$root/.venv/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
collections="$root/tests/output/collections"
mkdir -p "$collections/ansible_collections/crossnet"
ln -sfn "$root" "$collections/ansible_collections/crossnet/routed"
export ANSIBLE_COLLECTIONS_PATH="$collections"

# Labs this run brings up are taken down at its end, also after a failure; labs that were up
# before it (yours, a benchmark's) are left alone.
mapfile -t labs_before < <(python3 lab/lab.py list 2>/dev/null)
cleanup() { python3 lab/lab.py down --all ${labs_before[@]:+--keep "${labs_before[@]}"} >/dev/null 2>&1 || true; }
trap cleanup EXIT
# A signal ends the run once the command running then returns (bash runs traps between
# commands); the EXIT trap cleans up.
trap 'exit 130' INT TERM

step_unit()        { python -m pytest -q -p no:cacheprovider tests/unit; }
# Integration cases are independent sandboxes: run them on as many workers as there are cores.
step_integration() { python -m pytest -q -p no:cacheprovider -n "${CROSSNET_TEST_WORKERS:-$(nproc)}" tests/integration; }
step_lab()         { python -m pytest -q -p no:cacheprovider tests/lab; }
step_sanity()      { bash scripts/sanity.sh; }
step_lint()        { ansible-lint --offline -q; }
step_molecule()    { local s rc=0; for s in extensions/molecule/*/molecule.yml; do
                       s=$(basename "$(dirname "$s")"); echo "--- molecule test -s $s"
                       molecule test -s "$s" || rc=1; done; return $rc; }
# One lab per test module: modules spread over the workers, each module's cases stay on one.
step_reliability() { python -m pytest -q -p no:cacheprovider -n "${CROSSNET_TEST_WORKERS:-$(nproc)}" \
                       --dist loadfile tests/reliability; }

all_steps=(unit integration lab sanity lint molecule reliability)
steps=("${@:-${all_steps[@]}}")
passed=0 failed=0 failed_names=()
for s in "${steps[@]}"; do
  echo "=== step: $s"
  start=$SECONDS
  if "step_$s"; then passed=$((passed + 1)); result=ok
  else failed=$((failed + 1)); failed_names+=("$s"); result=FAILED; fi
  echo "=== step: $s $result in $((SECONDS - start)) s"
done
echo "failed steps: ${failed_names[*]:-none}"
echo "steps: $passed passed, $failed failed"
((failed == 0))
