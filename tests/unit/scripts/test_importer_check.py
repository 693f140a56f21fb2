# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""scripts/release/importer_check.py against a stand-in galaxy_importer (first on
PYTHONPATH) that logs as the real one does and exits 0: a clean import passes; a
WARNING or ERROR line, a missing result, a module without documentation, or an
example.invalid URL fails."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "release" / "importer_check.py"
GOOD = {
    "metadata": {"namespace": "lbops", "name": "haproxy", "version": "1.2.3",
                 "repository": "https://github.com/lbops/lbops.haproxy",
                 "documentation": "https://github.com/lbops/lbops.haproxy/blob/main/README.md",
                 "homepage": "https://github.com/lbops/lbops.haproxy",
                 "issues": "https://github.com/lbops/lbops.haproxy/issues"},
    "docs_blob": {"contents": [{"content_type": "module", "content_name": "m", "doc_strings": {"doc": {}}},
                               {"content_type": "role", "content_name": "r", "readme_file": "README.md"}],
                  "collection_readme": {"html": "<p>x</p>"}},
    "contents": [{"content_type": "module", "name": "m"}, {"content_type": "role", "name": "r"}],
    "requires_ansible": ">=2.19.0",
}
FAKE = '''
import json, sys
print("Importing with galaxy-importer (stand-in)")
for line in {lines!r}:
    print(line)
if {result!r} is not None:
    with open("importer_result.json", "w") as f:
        json.dump({result!r}, f)
    print("Importer processing completed successfully")
'''


def run_check(tmp_path, lines=(), result=None):
    pkg = tmp_path / "fake" / "galaxy_importer"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "main.py").write_text(FAKE.format(lines=list(lines), result=result))
    tarball = tmp_path / "lbops-haproxy-1.2.3.tar.gz"
    tarball.write_bytes(b"")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "fake"))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tarball)], capture_output=True, text=True,
                          env=env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_clean_import_passes(tmp_path):
    rc, out = run_check(tmp_path, ["Loading module m", "...ansible-lint run complete"], GOOD)
    assert rc == 0 and "check: passed" in out, out


@pytest.mark.parametrize("line", [
    "WARNING: roles/r/tasks/main.yml:3: name[casing]: All names should start with an uppercase letter.",
    "ERROR: Error running ansible-doc",
    "CRITICAL: something",
])
def test_logged_findings_fail_although_the_importer_exits_0(tmp_path, line):
    rc, out = run_check(tmp_path, [line], GOOD)
    assert rc == 1 and f"FAIL: {line}" in out, out


def test_no_result_fails(tmp_path):
    rc, out = run_check(tmp_path, [], None)
    assert rc == 1 and "no importer_result.json" in out and "did not complete" in out, out


def test_undocumented_module_and_placeholder_url_fail(tmp_path):
    bad = json.loads(json.dumps(GOOD))
    bad["docs_blob"]["contents"][0]["doc_strings"] = None
    bad["metadata"]["repository"] = "https://example.invalid/lbops/haproxy"
    rc, out = run_check(tmp_path, [], bad)
    assert rc == 1 and "module m: no documentation" in out and "repository" in out, out


def test_other_version_fails(tmp_path):
    bad = json.loads(json.dumps(GOOD))
    bad["metadata"]["version"] = "9.9.9"
    rc, out = run_check(tmp_path, [], bad)
    assert rc == 1 and "is not the tarball's" in out, out
