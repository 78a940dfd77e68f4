#!/usr/bin/env bash
# This working tree against another revision, side by side on one lab.  As root:
#   benchmarks/compare.sh REV [--size 1000] [--rounds 5]
# The lab ($XB_LAB, default xbcompare) is always taken down, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export XB_LAB=${XB_LAB:-xbcompare}
lab_down() { .venv/bin/python lab/lab.py down "$XB_LAB" >/dev/null 2>&1 || true; }
trap lab_down EXIT INT TERM
.venv/bin/python benchmarks/compare.py "$@"
