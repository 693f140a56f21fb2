#!/usr/bin/env bash
# Release checks and the release, with the pinned tools of the newest ansible-core line
# (antsibull-changelog, galaxy-importer: requirements/ansible-2.21.txt).
#
# Usage: scripts/release.sh [check]    every check below (the CI cell 'release')
#        scripts/release.sh release    antsibull-changelog release of galaxy.yml's version, then check
#
# check:
#   1. changelog: changes to plugins/ or roles/ since the base come with a fragment; the base is
#      the merge-base with LBOPS_CHANGELOG_BASE when set (a branch: LBOPS_CHANGELOG_BASE=origin/main),
#      else the commit of the last release in changelogs/changelog.yaml, else HEAD~1;
#      antsibull-changelog lint; CHANGELOG.md is what antsibull-changelog generate writes
#      (scripts/release/changelog_check.py).
#   2. the tarball: ansible-galaxy collection build of git's view of the tree; the development
#      machinery stays out of it (galaxy.yml build_ignore), the changelog and licence are in.
#   3. galaxy-importer on the tarball, offline and without containers
#      (scripts/release/galaxy-importer.cfg); any WARNING or ERROR it logs fails the check
#      (scripts/release/importer_check.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
action="${1:-check}"
ensure_venv_or_not_run "$LBOPS_NEWEST_LINE"
ensure_apt git rsync
cd "$REPO"

check() {
    local artifact listing leaked missing p
    log "changelog check"
    python "$REPO/scripts/release/changelog_check.py" --repo "$REPO"

    install_collection   # git's view of the tree (tracked, or new and not ignored)
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    ansible-galaxy collection build --force --output-path "$out" \
        "$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy" >/dev/null
    artifact="$(find "$out" -maxdepth 1 -name 'lbops-haproxy-*.tar.gz' | head -n 1)"
    log "built $(basename "$artifact") ($(du -k "$artifact" | cut -f1) KiB)"
    listing="$(tar -tzf "$artifact")"
    leaked="$(grep -E '^(\.ci|\.cache|\.venv|\.ansible|scripts|benchmarks|requirements|extensions/molecule|tests/output|execution-environment)/|^(containers\.conf|ruff\.toml|\.yamllint|\.gitignore|changelogs/\.plugin-cache\.yaml|importer_result\.json)$|\.tar\.gz$' \
        <<<"$listing" || true)"
    [ -z "$leaked" ] || die "the tarball carries development files (galaxy.yml build_ignore):"$'\n'"$leaked"
    missing=()
    for p in MANIFEST.json FILES.json README.md LICENSE CHANGELOG.md changelogs/changelog.yaml changelogs/config.yaml meta/runtime.yml meta/execution-environment.yml meta/ee-requirements.txt meta/ee-bindep.txt; do
        grep -qxF "$p" <<<"$listing" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] || die "the tarball lacks ${missing[*]}"
    log "tarball contents: no development files; README, LICENSE, changelog and meta present"

    log "galaxy-importer (offline)"
    python "$REPO/scripts/release/importer_check.py" "$artifact"
}

case "$action" in
    check) check ;;
    release)
        version="$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')"
        if python -c 'import sys, yaml; d = yaml.safe_load(open("changelogs/changelog.yaml")) or {}; sys.exit(sys.argv[1] not in (d.get("releases") or {}))' "$version"; then
            die "$version is already released in changelogs/changelog.yaml: raise galaxy.yml's version first"
        fi
        log "antsibull-changelog release $version"
        antsibull-changelog release --reload-plugins --version "$version"
        # Staged, so that git's view of the tree (the tarball's source) no longer lists the
        # fragments the release removed.
        git add -A changelogs CHANGELOG.md
        # The fragments were removed: the check's base is this release from its commit on.
        LBOPS_CHANGELOG_BASE="${LBOPS_CHANGELOG_BASE:-HEAD}" check
        log "released $version in the tree (staged): commit it ('Release $version'), then tag $version"
        ;;
    *) die "usage: scripts/release.sh [check|release]" ;;
esac
