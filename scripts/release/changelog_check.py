# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The changelog check of scripts/release.sh.

1. A change to plugins/ or roles/ since the base comes with a changelog fragment
   (a new or changed file in changelogs/fragments/; a ``trivial:`` fragment is
   enough for changes users do not see). A changed changelogs/changelog.yaml counts
   too: a release in the range took the fragments into it and removed them.
2. ``antsibull-changelog lint`` (the fragments) and ``lint-changelog-yaml``.
3. CHANGELOG.md is exactly what ``antsibull-changelog generate`` writes (no drift).

The base, what the tree is compared with:
- LBOPS_CHANGELOG_BASE=<ref>: the merge-base of HEAD and <ref> (a branch or pull
  request: LBOPS_CHANGELOG_BASE=origin/main).
- otherwise the commit that added the latest release to changelogs/changelog.yaml
  (``antsibull-changelog release``): in a fresh clone of main, everything since the
  last release must be covered by the fragments waiting for the next one;
- with no release recorded, the previous commit (HEAD~1).
The tree is the working tree: committed, staged, unstaged and untracked files count.

Usage: python3 scripts/release/changelog_check.py [--repo DIR] [--fragments-only]
Exit status 0 when every check passed, 1 otherwise.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

WATCHED = ("plugins/", "roles/")
FRAGMENTS = "changelogs/fragments/"
CHANGES = "changelogs/changelog.yaml"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def git_ok(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=False, capture_output=True, text=True).returncode == 0


def latest_release(repo):
    """The newest version in changelog.yaml (by release date, then file order), or None."""
    path = os.path.join(repo, CHANGES)
    if not os.path.exists(path):
        return None
    import yaml  # noqa: PLC0415 - only this step needs PyYAML

    with open(path, encoding="utf-8") as f:
        releases = (yaml.safe_load(f) or {}).get("releases") or {}
    dated = [(str(data.get("release_date", "")), index, version) for index, (version, data) in enumerate(releases.items())]
    return max(dated)[2] if dated else None


def release_commit(repo, version):
    """The commit that added <version> to changelog.yaml (the release commit), or None."""
    key = re.compile(rf"^  ['\"]?{re.escape(version)}['\"]?:$", re.M)

    def has_key(rev):
        show = subprocess.run(["git", "-C", repo, "show", f"{rev}:{CHANGES}"], check=False, capture_output=True, text=True)
        return show.returncode == 0 and bool(key.search(show.stdout))

    for commit in git(repo, "log", "--format=%H", "--", CHANGES).split():
        if has_key(commit) and not has_key(f"{commit}~1"):
            return commit
    return None


def find_base(repo):
    """(commit, how it was chosen)."""
    ref = os.environ.get("LBOPS_CHANGELOG_BASE")
    if ref:
        if not git_ok(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"):
            raise SystemExit(f"changelog check: LBOPS_CHANGELOG_BASE={ref} is not a commit here (fetch it first)")
        return git(repo, "merge-base", "HEAD", ref).strip(), f"merge-base of HEAD and {ref}"
    if git(repo, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise SystemExit("changelog check: shallow clone; fetch the whole history (fetch-depth: 0) or set LBOPS_CHANGELOG_BASE")
    version = latest_release(repo)
    commit = release_commit(repo, version) if version else None
    if commit:
        return commit, f"release {version} ({commit[:10]})"
    if git_ok(repo, "rev-parse", "--verify", "--quiet", "HEAD~1"):
        return git(repo, "rev-parse", "HEAD~1").strip(), "no release recorded: the previous commit"
    return EMPTY_TREE, "no release recorded, first commit: everything"


def changed_files(repo, base):
    """Files that differ between base and the working tree, with the untracked ones."""
    tracked = git(repo, "diff", "--name-only", "--no-renames", base, "--").split("\n")
    untracked = git(repo, "ls-files", "--others", "--exclude-standard").split("\n")
    return sorted({f for f in tracked + untracked if f})


def check_fragments(repo):
    base, how = find_base(repo)
    files = changed_files(repo, base)
    code = [f for f in files if f.startswith(WATCHED)]
    fragments = [f for f in files if f.startswith(FRAGMENTS) and f.endswith((".yml", ".yaml"))
                 and os.path.exists(os.path.join(repo, f))]
    if CHANGES in files:  # a release in the range folded (and removed) the fragments of its changes
        fragments.append(CHANGES)
    print(f"changelog check: base is the {how}; {len(code)} changed file(s) in plugins/ or roles/, "
          f"{len(fragments)} new or changed fragment(s)")
    if code and not fragments:
        print("FAIL: these changes come without a changelog fragment (add changelogs/fragments/<topic>.yml):")
        for f in code:
            print(f"  {f}")
        return False
    return True


def run(repo, *cmd):
    proc = subprocess.run(list(cmd), check=False, cwd=repo, capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or (cmd[1] != "generate" and out):
        print(f"FAIL: {' '.join(cmd)}:\n{out}")
        return False
    return True


def check_antsibull(repo):
    ok = run(repo, "antsibull-changelog", "lint")
    ok = run(repo, "antsibull-changelog", "lint-changelog-yaml", CHANGES) and ok
    with tempfile.TemporaryDirectory() as tmp:
        generated = os.path.join(tmp, "CHANGELOG.md")
        if not run(repo, "antsibull-changelog", "generate", "--output", generated, "--output-format", "md"):
            return False
        with open(generated, encoding="utf-8") as f:
            want = f.read()
    current = os.path.join(repo, "CHANGELOG.md")
    have = open(current, encoding="utf-8").read() if os.path.exists(current) else ""
    if have != want:
        print("FAIL: CHANGELOG.md is not what 'antsibull-changelog generate' writes: run it and commit the result")
        return False
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--repo", default=".", help="the repository (default: the current directory)")
    parser.add_argument("--fragments-only", action="store_true", help="only the fragment check (no antsibull-changelog)")
    args = parser.parse_args(argv)
    repo = git(args.repo, "rev-parse", "--show-toplevel").strip()
    ok = check_fragments(repo)
    if not args.fragments_only:
        ok = check_antsibull(repo) and ok
    print("changelog check: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
