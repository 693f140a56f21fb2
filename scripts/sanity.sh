#!/usr/bin/env bash
# ansible-test sanity (no ignore file), ruff, yamllint and ansible-lint.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_apt rsync python3-venv shellcheck
ensure_venv
install_collection
py="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
log "ruff"
(cd "$REPO" && ruff check --no-cache .)
log "yamllint"
(cd "$REPO" && yamllint -s .)
# ansible-test bootstraps pip in its sanity venvs from a host this machine cannot
# reach; seed its cache with a stand-in that uses ensurepip and the package index.
pipver="$(python - <<'PY'
import re, ansible_test, pathlib
text = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", text).group(1))
PY
)"
mkdir -p "$HOME/.ansible/test/cache"
cp "$REPO/scripts/ansible-test/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
cd "$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy"
log "ansible-test sanity"
ansible-test sanity --python "$py" --requirements --color no
if [ -d roles ] && [ -n "$(ls -A roles 2>/dev/null)" ]; then
    log "ansible-lint (production profile)"
    (cd "$REPO" && ansible-lint --profile production --offline)
fi
