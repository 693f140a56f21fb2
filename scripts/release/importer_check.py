# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run galaxy-importer on a built tarball, offline (scripts/release/galaxy-importer.cfg),
and fail on what it finds: the importer logs problems (ansible-lint violations among
them) as WARNING or ERROR lines and still exits 0, so every such line fails the check,
as do a missing result, a result whose metadata is not the tarball's, and a module,
filter or role without rendered documentation.

Usage: python3 scripts/release/importer_check.py <lbops-haproxy-X.Y.Z.tar.gz>
"""

import json
import os
import re
import subprocess
import sys
import tempfile

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "galaxy-importer.cfg")


def main(tarball):
    tarball = os.path.abspath(tarball)
    namespace, name, version = re.match(r"(\w+)-(\w+)-(.+)\.tar\.gz$", os.path.basename(tarball)).groups()
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GALAXY_IMPORTER_CONFIG=CONFIG, GALAXY_IMPORTER_TMP_ROOT_DIR=tmp,
                   GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=os.path.join(tmp, "ansible"), HOME=tmp)
        proc = subprocess.run([sys.executable, "-m", "galaxy_importer.main", tarball], cwd=tmp, env=env,
                              capture_output=True, text=True, check=False)
        log = proc.stdout + proc.stderr
        with open(os.path.join(tmp, "importer.log"), "w", encoding="utf-8") as f:
            f.write(log)
        result_path = os.path.join(tmp, "importer_result.json")
        result = None
        if os.path.exists(result_path):
            with open(result_path, encoding="utf-8") as f:
                result = json.load(f)
    print(log.rstrip())
    if proc.returncode != 0:
        problems.append(f"galaxy-importer exited {proc.returncode}")
    problems += [line for line in log.splitlines() if re.match(r"(WARNING|ERROR|CRITICAL):|Traceback", line)]
    if "Importer processing completed successfully" not in log:
        problems.append("galaxy-importer did not complete")
    if result is None:
        problems.append("no importer_result.json")
    else:
        meta = result["metadata"]
        if (meta["namespace"], meta["name"], meta["version"]) != (namespace, name, version):
            problems.append(f"result metadata {meta['namespace']}.{meta['name']} {meta['version']} is not the tarball's")
        for key in ("repository", "documentation", "homepage", "issues"):
            if not meta.get(key) or "example.invalid" in meta[key]:
                problems.append(f"galaxy.yml: {key} is {meta.get(key)!r}")
        for content in result["docs_blob"]["contents"]:
            kind, cname = content["content_type"], content["content_name"]
            if kind in ("module", "filter") and not content.get("doc_strings"):
                problems.append(f"{kind} {cname}: no documentation from ansible-doc")
            if kind == "role" and not content.get("readme_file"):
                problems.append(f"role {cname}: no README")
        if not result["docs_blob"]["collection_readme"].get("html"):
            problems.append("the collection README did not render")
        kinds = sorted({c["content_type"] for c in result["contents"]})
        print(f"importer result: {namespace}.{name} {version}, {len(result['contents'])} contents ({', '.join(kinds)}), "
              f"requires_ansible {result['requires_ansible']}")
    for problem in problems:
        print(f"FAIL: {problem}")
    print("galaxy-importer check: " + ("FAILED" if problems else "passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    sys.exit(main(sys.argv[1]))
