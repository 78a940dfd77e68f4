#!/usr/bin/env bash
# README command 1: set the machine up (scripts/bootstrap.sh), bring the seed lab up (two hosts
# and a node outside the container network, all namespaces on this machine), run
# playbooks/site.yml against it over ssh, and print the connectivity matrix: every container to
# every container, every other host and the outside node, with the source address the receiver
# saw.  The lab is taken down at the end, also on failure or Ctrl-C.  Run as root.
#
#   scripts/demo.sh            # CROSSNET_DEMO_KEEP=1 keeps the lab up (take it down with
#                              # .venv/bin/python lab/lab.py down demo)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
lab=${CROSSNET_DEMO_LAB:-demo}
start=$SECONDS

scripts/bootstrap.sh
python=$repo/.venv/bin/python
export PATH=$repo/.venv/bin:$PATH

# shellcheck disable=SC2317  # called by the EXIT trap
teardown() {
  if [[ "${CROSSNET_DEMO_KEEP:-0}" != 1 ]]; then
    "$python" lab/lab.py down "$lab"
  fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

echo "== lab $lab up (lab/topologies/seed.yml)"
inventory=$("$python" lab/lab.py up lab/topologies/seed.yml --name "$lab")
echo "   inventory: $inventory"

echo "== ansible-playbook -i $inventory playbooks/site.yml"
ANSIBLE_COLLECTIONS_PATH=/run/crossnet-lab/$lab/collections \
  ansible-playbook -i "$inventory" playbooks/site.yml

echo "== connectivity matrix (cell: source address the receiver saw)"
status=0
"$python" lab/lab.py probe "$lab" --check || status=$?
echo "== done in $((SECONDS - start)) s"
exit "$status"
