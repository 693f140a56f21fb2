#!/usr/bin/env bash
# The collection's documentation, checked the way the Ansible docsite checks it:
#   1. antsibull-docs lint-collection-docs --plugin-docs: the DOCUMENTATION, EXAMPLES and
#      RETURN of every plugin and the meta/argument_specs.yml of every role (schema,
#      markup, references), and the references of the extra docs;
#   2. a docsite built from the collection: antsibull-docs sphinx-init, then antsibull-docs
#      collection and sphinx-build -W (every warning fails);
#   3. every module page of that site read back from its HTML: the options table holds
#      every option, the examples section every example task, the return values table
#      every returned value; and one page (haproxy_server) rendered to a PNG by headless
#      Chromium, to look at.
# Output in .cache/docs (site in .cache/docs/site/build/html, the PNG in .cache/docs).
# The module examples themselves run against live HAProxy in the integration target
# module_examples (scripts/integration.sh).
#
# Usage: scripts/docs.sh [--line 2.19|2.20|2.21]   (default: the newest line)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
parse_line_option "$@"
ensure_apt chromium
ensure_venv_or_not_run "$LINE"
install_collection
COPY="$COLLECTIONS_ROOT/ansible_collections/lbops/haproxy"
OUT="$REPO/.cache/docs"
SITE="$OUT/site"
rm -rf "$OUT"
mkdir -p "$OUT"

log "antsibull-docs lint-collection-docs --plugin-docs ($(antsibull-docs --version))"
antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs "$COPY"

log "docsite: antsibull-docs sphinx-init, then build.sh (sphinx-build -W) in ${SITE#"$REPO"/}"
mkdir -p "$SITE"
antsibull-docs sphinx-init --use-current --dest-dir "$SITE" lbops.haproxy >/dev/null
# The generated conf.py fetches the inventories of the Python, Jinja and Ansible docs from
# the network. The suite runs offline: the one inventory it uses is made here, with the few
# labels of the Ansible docsite that the generated pages refer to (each at its real address).
# A page that refers to any other label outside this site fails the build (-W): add the
# label below if it does exist on docs.ansible.com.
python3 - "$SITE" <<'EOF'
import re
import sys
import zlib

site = sys.argv[1]
labels = [
    ("common_return_values", "std:label", "reference_appendices/common_return_values.html#common-return-values",
     "Return Values"),
    ("ansible_configuration_settings", "std:label", "reference_appendices/config.html#ansible-configuration-settings",
     "Ansible Configuration Settings"),
    ("ansible_collections.ansible.builtin.stat_module", "std:label",
     "collections/ansible/builtin/stat_module.html#ansible-collections-ansible-builtin-stat-module",
     "ansible.builtin.stat module"),
]
body = "".join("%s %s -1 %s %s\n" % label for label in labels)
with open(site + "/ansible_devel.inv", "wb") as handle:
    handle.write(b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
                 b"# The remainder of this file is compressed using zlib.\n")
    handle.write(zlib.compress(body.encode()))
path = site + "/conf.py"
with open(path) as handle:
    conf = handle.read()
mapping = ("intersphinx_mapping = {\n"
           "    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv'),\n}\n")
conf, count = re.subn(r"(?ms)^intersphinx_mapping = \{.*?^\}\n", mapping, conf)
if count != 1:
    sys.exit("conf.py of sphinx-init has no intersphinx_mapping to replace")
with open(path, "w") as handle:
    handle.write(conf)
EOF
(cd "$SITE" && ./build.sh) >"$OUT/build.log" 2>&1 || {
    grep -E 'WARNING|ERROR' "$OUT/build.log" >&2 || tail -n 30 "$OUT/build.log" >&2
    die "the docsite does not build without warnings (log: ${OUT#"$REPO"/}/build.log)"
}
HTML="$SITE/build/html/collections/lbops/haproxy"

log "module pages: options, examples and return values of every module"
python3 - "$COPY/plugins/modules" "$HTML" <<'EOF'
import ast
import glob
import html.parser
import os
import sys

import yaml

modules_dir, html_dir = sys.argv[1:3]


class Page(html.parser.HTMLParser):
    """Ids of the elements of each section of a page, and the text of each section."""

    def __init__(self):
        super().__init__()
        self.stack = []        # (tag, section id or None)
        self.ids = {}          # section id -> set of element ids inside it
        self.text = {}         # section id -> text inside it
        self.tables = {}       # section id -> number of option tables

    def sections(self):
        return [sid for dummy, sid in self.stack if sid]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        sid = attrs.get("id") if tag == "section" else None
        for open_sid in self.sections():
            if attrs.get("id"):
                self.ids.setdefault(open_sid, set()).add(attrs["id"])
            if tag == "table" and "ansible-option-table" in (attrs.get("class") or ""):
                self.tables[open_sid] = self.tables.get(open_sid, 0) + 1
        if tag not in ("br", "img", "meta", "link", "input", "hr", "wbr", "col"):
            self.stack.append((tag, sid))

    def handle_endtag(self, tag):
        if tag not in [open_tag for open_tag, dummy in self.stack]:
            return
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        for sid in self.sections():
            self.text[sid] = self.text.get(sid, "") + data


def docs_of(path):
    found = {}
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
            found[node.targets[0].id] = yaml.safe_load(node.value.value)
    return found


problems = []
checked = 0
for path in sorted(glob.glob(os.path.join(modules_dir, "*.py"))):
    name = os.path.basename(path)[:-3]
    if name.startswith("_"):
        continue
    docs = docs_of(path)
    page_path = os.path.join(html_dir, name + "_module.html")
    if not os.path.exists(page_path):
        problems.append("%s: no page %s" % (name, page_path))
        continue
    page = Page()
    page.feed(open(page_path, encoding="utf-8").read())
    options = (docs.get("DOCUMENTATION") or {}).get("options") or {}
    has_options = bool(options or (docs.get("DOCUMENTATION") or {}).get("extends_documentation_fragment"))
    for section in (["parameters"] if has_options else []) + ["examples", "return-values"]:
        if section not in page.text:
            problems.append("%s: the page has no section '%s'" % (name, section))
    if has_options and not page.tables.get("parameters"):
        problems.append("%s: no options table" % name)
    for option in options:
        if "parameter-" + option not in page.ids.get("parameters", set()):
            problems.append("%s: option %s is not in the options table" % (name, option))
    examples = docs.get("EXAMPLES") or []
    if not examples:
        problems.append("%s: no EXAMPLES" % name)
    shown = " ".join(page.text.get("examples", "").split())
    for task in examples:
        if " ".join(task.get("name", "").split()) not in shown:
            problems.append("%s: example %r is not in the examples section" % (name, task.get("name")))
    returned = docs.get("RETURN") or {}
    if returned and not page.tables.get("return-values"):
        problems.append("%s: no return values table" % name)
    for key in returned:
        ids = page.ids.get("return-values", set())
        if key == "ansible_facts":
            # Shown as the facts it holds, in a section of their own.
            ids = page.ids.get("returned-facts", set())
        if "return-" + key not in ids and not any(i.startswith("return-%s/" % key) for i in ids):
            problems.append("%s: return value %s is not in the return values table" % (name, key))
    checked += 1
    print("%s: %d options, %d examples, %d return values on the page" % (name, len(options), len(examples), len(returned)))
if problems:
    sys.exit("module pages:\n  " + "\n  ".join(problems))
if not checked:
    sys.exit("no module pages were checked")
EOF

log "rendering haproxy_server_module.html with headless Chromium"
PNG="$OUT/haproxy_server_module.png"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$PNG" \
    --window-size=1280,4000 "file://$HTML/haproxy_server_module.html" >"$OUT/chromium.log" 2>&1 || {
    cat "$OUT/chromium.log" >&2
    die "chromium could not render the page"
}
[ "$(stat -c %s "$PNG" 2>/dev/null || echo 0)" -gt 50000 ] || die "the screenshot $PNG is missing or blank"
# The page is longer than the window: a second picture of the same page without the sections
# before Examples shows the examples and the return values.
PNG2="$OUT/haproxy_server_module-examples.png"
sed 's#</head>#<style>\#synopsis,\#parameters,\#attributes,\#notes,\#see-also{display:none}</style></head>#' \
    "$HTML/haproxy_server_module.html" >"$HTML/_lower_haproxy_server_module.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$PNG2" \
    --window-size=1280,4000 "file://$HTML/_lower_haproxy_server_module.html" >>"$OUT/chromium.log" 2>&1 || {
    cat "$OUT/chromium.log" >&2
    die "chromium could not render the page"
}
rm -f "$HTML/_lower_haproxy_server_module.html"
[ "$(stat -c %s "$PNG2" 2>/dev/null || echo 0)" -gt 50000 ] || die "the screenshot $PNG2 is missing or blank"
log "docs: lint clean, docsite built (${SITE#"$REPO"/}/build/html), page rendered (${PNG#"$REPO"/}, ${PNG2#"$REPO"/})"
