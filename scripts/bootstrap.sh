#!/usr/bin/env bash
# Installs what the lab, the tests and the demo need on a Debian machine, as root:
# Debian packages with apt, everything Python into ./.venv with pip.  Idempotent.
# systemd-container, busybox-static and podman: the real containers of tests/lab/test_containers.py.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(iproute2 iptables nftables openssh-server openssh-client
              python3 python3-venv python3-pyroute2 python3-netaddr iperf3 util-linux procps shellcheck
              graphviz systemd-container busybox-static podman)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# openssh-server's package scripts may start a system sshd; the lab runs its own.
systemctl disable --now ssh.service >/dev/null 2>&1 || true

python=${PYTHON:-python3}
stamp=.venv/.requirements-dev.sha
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
