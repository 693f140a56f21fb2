# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""scripts/release/changelog_check.py on throwaway git repositories: it fails where a change
to plugins/ or roles/ has no fragment, whatever the base, and passes otherwise; the
antsibull-changelog part (where the tool is installed) fails on a bad fragment and
on a CHANGELOG.md that drifted from the generated one."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "release" / "changelog_check.py"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}
RELEASE = """---
ancestor: null
releases:
  1.0.0:
    changes:
      minor_changes:
        - A first change.
      release_summary: The first release.
    fragments:
      - first.yml
    release_date: '2026-01-02'
"""


class Repo:
    def __init__(self, path):
        self.path = path
        self.git("init", "-q", "-b", "main")

    def git(self, *args):
        subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True,
                       env={**os.environ, **GIT_ENV})

    def write(self, name, text="x\n"):
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def commit(self, message, **files):
        """Files as keywords: plugins__modules__m__py is plugins/modules/m.py."""
        for name, text in files.items():
            *dirs, ext = name.split("__")
            self.write("/".join(dirs) + "." + ext, text)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def check(self, *args, base=None):
        env = {k: v for k, v in os.environ.items() if k != "LBOPS_CHANGELOG_BASE"}
        if base:
            env["LBOPS_CHANGELOG_BASE"] = base
        proc = subprocess.run([sys.executable, str(SCRIPT), "--repo", str(self.path), *args],
                              capture_output=True, text=True, env={**env, **GIT_ENV}, check=False)
        return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path)
    r.commit("start", README__md="readme\n", plugins__modules__m__py="one\n")
    return r


FRAGMENT = "---\nminor_changes:\n  - m - a change.\n"


def test_plugin_change_without_fragment_fails(repo):
    repo.commit("change m", plugins__modules__m__py="two\n")
    rc, out = repo.check("--fragments-only")
    assert rc == 1, out
    assert "plugins/modules/m.py" in out and "previous commit" in out


def test_role_change_without_fragment_fails(repo):
    repo.commit("new role", roles__r__tasks__main__yml="---\n")
    rc, out = repo.check("--fragments-only")
    assert rc == 1 and "roles/r/tasks/main.yml" in out, out


def test_change_with_fragment_passes(repo):
    repo.commit("change m", plugins__modules__m__py="two\n", changelogs__fragments__m__yml=FRAGMENT)
    rc, out = repo.check("--fragments-only")
    assert rc == 0, out


def test_change_elsewhere_needs_no_fragment(repo):
    repo.commit("docs", README__md="more\n", docs__x__md="x\n")
    rc, out = repo.check("--fragments-only")
    assert rc == 0, out


def test_uncommitted_and_untracked_changes_count(repo):
    repo.write("plugins/modules/m.py", "dirty\n")
    assert repo.check("--fragments-only")[0] == 1
    repo.git("checkout", "--", ".")
    repo.write("plugins/filter/new.py")
    assert repo.check("--fragments-only")[0] == 1
    repo.write("changelogs/fragments/new.yml", FRAGMENT)
    assert repo.check("--fragments-only")[0] == 0


def test_branch_base_is_the_merge_base(repo):
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("fragment first", changelogs__fragments__m__yml=FRAGMENT)
    repo.commit("then the code", plugins__modules__m__py="two\n")
    # HEAD~1 alone has no fragment; the branch as a whole has one.
    assert repo.check("--fragments-only")[0] == 1
    rc, out = repo.check("--fragments-only", base="main")
    assert rc == 0 and "merge-base of HEAD and main" in out, out
    repo.git("checkout", "-q", "main")
    repo.commit("main moves on", docs__y__md="y\n")
    repo.git("checkout", "-q", "-b", "other")
    repo.commit("code only", roles__r__defaults__main__yml="---\n")
    assert repo.check("--fragments-only", base="main")[0] == 1


def test_base_since_last_release(repo):
    repo.commit("release 1.0.0", changelogs__changelog__yaml=RELEASE)
    repo.commit("code after the release", plugins__modules__m__py="two\n")
    repo.commit("docs after that", docs__z__md="z\n")
    # The previous commit changed no code, but the release is the base.
    rc, out = repo.check("--fragments-only")
    assert rc == 1 and "release 1.0.0" in out and "plugins/modules/m.py" in out, out
    repo.commit("its fragment", changelogs__fragments__m__yml=FRAGMENT)
    assert repo.check("--fragments-only")[0] == 0


def test_a_release_in_the_range_covers_its_changes(repo):
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("code", plugins__modules__m__py="two\n", changelogs__fragments__first__yml=FRAGMENT)
    repo.git("rm", "-q", "changelogs/fragments/first.yml")
    repo.commit("release 1.0.0 (the fragment folded in)", changelogs__changelog__yaml=RELEASE)
    rc, out = repo.check("--fragments-only", base="main")
    assert rc == 0, out


def test_unknown_base_fails(repo):
    rc, out = repo.check("--fragments-only", base="no-such-ref")
    assert rc != 0 and "no-such-ref" in out


def test_shallow_clone_fails_without_a_base(repo, tmp_path):
    repo.commit("second", plugins__modules__m__py="two\n")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)],
                   check=True, capture_output=True)
    proc = subprocess.run([sys.executable, str(SCRIPT), "--repo", str(clone), "--fragments-only"],
                          capture_output=True, text=True, check=False,
                          env={k: v for k, v in os.environ.items() if k != "LBOPS_CHANGELOG_BASE"})
    assert proc.returncode != 0 and "shallow" in proc.stderr + proc.stdout


CONFIG = Path(__file__).resolve().parents[3] / "changelogs" / "config.yaml"
needs_antsibull = pytest.mark.skipif(shutil.which("antsibull-changelog") is None or not CONFIG.exists(),
                                     reason="antsibull-changelog is pinned on the newest line only")


@needs_antsibull
def test_antsibull_lint_and_drift(repo):
    repo.commit("collection", galaxy__yml="---\nnamespace: t\nname: c\nversion: 1.0.0\nreadme: README.md\nauthors: [t]\n",
                changelogs__config__yaml=CONFIG.read_text(encoding="utf-8"), changelogs__changelog__yaml=RELEASE)
    subprocess.run(["antsibull-changelog", "generate"], cwd=repo.path, check=True, capture_output=True)
    repo.commit("generated")
    rc, out = repo.check()
    assert rc == 0, out

    changelog = repo.path / "CHANGELOG.md"
    changelog.write_text(changelog.read_text(encoding="utf-8") + "\nby hand\n", encoding="utf-8")
    rc, out = repo.check()
    assert rc == 1 and "CHANGELOG.md is not what" in out, out
    repo.git("checkout", "--", "CHANGELOG.md")

    repo.write("changelogs/fragments/bad.yml", "---\nno_such_section:\n  - x\n")
    rc, out = repo.check()
    assert rc == 1 and "antsibull-changelog lint" in out, out
