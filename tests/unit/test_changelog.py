# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The changelog: antsibull-changelog's fragments in changelogs/fragments/ lint clean (and a bad
one fails the lint), and CHANGELOG.md is exactly what ``scripts/changelog.sh render`` makes of
them, so a fragment added or changed without rendering again fails here."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)  # the venv's: antsibull-changelog, ansible-doc
SCRIPT = os.path.join("scripts", "changelog.sh")


def run(argv, cwd):
    if not shutil.which("antsibull-changelog", path=BIN):
        pytest.fail("antsibull-changelog is not installed next to %s (requirements-dev.txt; "
                    "scripts/bootstrap.sh installs it)" % sys.executable)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1",
               ANTSIBULL_CHANGELOG=os.path.join(BIN, "antsibull-changelog"))
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def checkout_copy(dest):
    """The checkout's files (tracked and untracked, not ignored) copied to dest."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = os.path.join(REPO, name)
        if os.path.isfile(src):  # not a tracked file deleted in the work tree
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, name))
    return dest


def render(checkout):
    os.remove(os.path.join(checkout, "CHANGELOG.md"))  # the command must write it, not leave it
    proc = run([os.path.join(checkout, SCRIPT), "render"], cwd=checkout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(checkout, "CHANGELOG.md"), encoding="utf-8") as f:
        return f.read()


def test_the_readme_names_the_render_and_lint_commands():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert "\nscripts/changelog.sh render" in readme and "\nscripts/changelog.sh lint" in readme


def test_the_fragments_lint_clean():
    proc = run([os.path.join(REPO, SCRIPT), "lint"], cwd=REPO)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")
    if os.path.exists(os.path.join(REPO, "changelogs", "changelog.yaml")):  # after a release
        proc = run(["antsibull-changelog", "lint-changelog-yaml", "changelogs/changelog.yaml"], cwd=REPO)
        assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@pytest.mark.parametrize("text, message", [
    ("new_features:\n  - Something.\n", "invalid section: new_features"),
    ("minor_changes: Something.\n", 'section "minor_changes" must be type list not str'),
    ("minor_changes:\n  - The ``unclosed literal.\n", "Inline literal start-string without end-string"),
    ("minor_changes:\n  - [Something.\n", "yaml parsing error"),
], ids=["unknown-section", "not-a-list", "bad-rst", "bad-yaml"])
def test_the_lint_fails_on_a_bad_fragment(tmp_path, text, message):
    shutil.copy2(os.path.join(REPO, "galaxy.yml"), tmp_path)
    shutil.copytree(os.path.join(REPO, "changelogs"), tmp_path / "changelogs")
    (tmp_path / "changelogs" / "fragments" / "bad.yml").write_text(text, encoding="utf-8")
    proc = run(["antsibull-changelog", "lint"], cwd=tmp_path)
    assert proc.returncode != 0
    assert "changelogs/fragments/bad.yml:0:0: " in proc.stdout and message in proc.stdout, proc.stdout


def test_changelog_md_is_what_the_render_command_makes(tmp_path):
    rendered = render(checkout_copy(tmp_path / "checkout"))
    with open(os.path.join(REPO, "CHANGELOG.md"), encoding="utf-8") as f:
        committed = f.read()
    if rendered != committed:
        diff = "".join(difflib.unified_diff(committed.splitlines(True), rendered.splitlines(True),
                                            "CHANGELOG.md", "rendered", n=1))
        pytest.fail("CHANGELOG.md is stale: run scripts/changelog.sh render\n"
                    + diff[:6000])
    # The render left the checkout as it was: no changelog.yaml, no plugin cache, fragments kept.
    assert sorted(os.listdir(tmp_path / "checkout" / "changelogs")) == sorted(os.listdir(os.path.join(REPO, "changelogs")))
    assert sorted(os.listdir(tmp_path / "checkout" / "changelogs" / "fragments")) == \
        sorted(os.listdir(os.path.join(REPO, "changelogs", "fragments")))


def test_a_new_fragment_changes_the_render(tmp_path):
    """What makes a CHANGELOG.md stale: a fragment the committed file does not show yet."""
    checkout = checkout_copy(tmp_path / "checkout")
    with open(os.path.join(checkout, "CHANGELOG.md"), encoding="utf-8") as f:
        before = f.read()
    with open(os.path.join(checkout, "changelogs", "fragments", "zz-new.yml"), "w", encoding="utf-8") as f:
        f.write("bugfixes:\n  - A change nobody rendered yet.\n")
    after = render(checkout)
    assert "* A change nobody rendered yet\\." in after
    assert after != before
