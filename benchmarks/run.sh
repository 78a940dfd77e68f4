#!/usr/bin/env bash
# Converge at scale against the kernel floor (issue 5).  As root, after scripts/bootstrap.sh:
#   benchmarks/run.sh --sizes 50,200,1000 [--python venv|system] [--cidr] [--profile modules|controller]
#   benchmarks/run.sh --sizes 1000 --encapsulation vxlan   # two subnets, a router, the VXLAN overlay
# Results: benchmarks/results/<stamp>/ (summary.md, results.json, time_vs_n.png; latest -> newest).
# The lab ($XB_LAB, default xbench) is always taken down, also on failure or Ctrl-C.
#   benchmarks/run.sh --planner [--sizes 100x100,300x100,1000x100] [--repeat 3]   # planner alone, no lab
#   benchmarks/run.sh --dataplane [--rounds 5]   # iperf3 over IPv6 and IPv4, containers vs hosts (lab $XD_LAB)
#   benchmarks/run.sh --hosts 2,8,32,64 [--limit [250x40]] [--default-path [200]] [--repeat 3]
#                                      # over hosts (benchmarks/fleet.py; lab $XF_LAB, default xfleet)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == --planner ]]; then
  shift
  exec .venv/bin/python benchmarks/planner.py "$@"
fi
if [[ "${1:-}" == --dataplane ]]; then
  shift
  export XD_LAB=${XD_LAB:-xdual}
  trap '.venv/bin/python lab/lab.py down "$XD_LAB" >/dev/null 2>&1 || true' EXIT INT TERM
  .venv/bin/python benchmarks/dataplane.py "$@"
  exit
fi
# Another lab name ($XB_LAB, $XF_LAB) lets two runs share the machine.
script=benchmarks/bench.py; export XB_LAB=${XB_LAB:-xbench}; lab=$XB_LAB
for arg in "$@"; do
  case "$arg" in
    --hosts|--hosts=*|--limit|--limit=*|--default-path|--default-path=*)
      script=benchmarks/fleet.py; export XF_LAB=${XF_LAB:-xfleet}; lab=$XF_LAB ;;
  esac
done
lab_down() { .venv/bin/python lab/lab.py down "$lab" >/dev/null 2>&1 || true; }
trap lab_down EXIT INT TERM
.venv/bin/python "$script" "$@"
