#!/usr/bin/env bash
# Runs `ansible-test sanity` offline on a copy of the collection laid out as
# ansible_collections/crossnet/routed (ansible-test runs only from such a path).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
# Outside the repository: inside it ansible-test would ask git, which ignores the copy.
work=$(mktemp -d /tmp/crossnet-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/crossnet/routed"

pip_version=$("$venv/bin/python" - <<'PY'
import re, ansible_test, pathlib
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp "$root/tests/sanity/get_pip_standin.py" "$cache"

mkdir -p "$dest"
(cd "$root" && git ls-files -co --exclude-standard -z) \
  | (cd "$root" && xargs -0 cp --parents -t "$dest")
cd "$dest"
PATH="$venv/bin:$PATH" ansible-test sanity --venv --python 3.11 --color no "$@"
