#!/usr/bin/env bash
# CHANGELOG.md from the fragments in changelogs/fragments/ (antsibull-changelog), as Ansible
# collections keep their changelog.
#   scripts/changelog.sh lint     check the fragments (ansible-test sanity's changelog test does too)
#   scripts/changelog.sh render   write CHANGELOG.md: galaxy.yml's version as releasing it would,
#                                 made in a throwaway copy, so the fragments stay
# Releasing is `antsibull-changelog release --date YYYY-MM-DD` in the checkout itself: it records
# the release in changelogs/changelog.yaml and removes the released fragments.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${ANTSIBULL_CHANGELOG:-$(pwd)/.venv/bin/antsibull-changelog}
PATH="$(dirname "$tool"):$PATH"   # it runs ansible-doc to find the plugins
export PATH
case "${1:-}" in
  lint) exec "$tool" lint ;;
  render)
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    cp -r galaxy.yml meta plugins roles changelogs "$scratch"
    (cd "$scratch" && "$tool" release)
    cp "$scratch/CHANGELOG.md" CHANGELOG.md ;;
  *) echo "usage: scripts/changelog.sh lint|render" >&2; exit 2 ;;
esac
