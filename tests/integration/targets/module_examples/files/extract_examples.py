"""Write the EXAMPLES of every module of the collection as task files, one per module.

Usage: extract_examples.py START_DIR DEST_DIR SUBSTITUTIONS_JSON

The modules are those of the collection START_DIR is in (ansible-test runs the target from a
copy inside the collection's tests/output): the nearest parent with galaxy.yml and plugins/modules.

The EXAMPLES string of each module (a YAML list of tasks) is taken as it is, with only the
socket addresses and the HAProxy directories replaced (SUBSTITUTIONS_JSON: {"old": "new"},
applied to the text in that order). Whatever else names a socket or an absolute path under
/run, /etc or /var after that is an error: an example that needs more than these
substitutions to run here is not run as written, so the target refuses it.
Prints {"modules_dir": path, "examples": [{"module": name, "file": path, "tasks": count}, ...]}
(in module order).
"""

import ast
import json
import os
import re
import sys

import yaml

LEFTOVER = re.compile(r"(?:ipv[46]@|unix@|(?<![\w.{}/-])/(?:run|etc|var)/)\S*")


def examples_of(path):
    with open(path) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EXAMPLES":
            return node.value.value
    return None


def modules_dir_of(start):
    path = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(path, "galaxy.yml")) and os.path.isdir(os.path.join(path, "plugins", "modules")):
            return os.path.join(path, "plugins", "modules")
        parent = os.path.dirname(path)
        if parent == path:
            sys.exit("no collection (galaxy.yml, plugins/modules) above %s" % start)
        path = parent


def main():
    modules_dir, dest, substitutions = modules_dir_of(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    os.makedirs(dest, exist_ok=True)
    written, problems = [], []
    for entry in sorted(os.listdir(modules_dir)):
        if not entry.endswith(".py") or entry.startswith("_"):
            continue
        module = entry[:-3]
        text = examples_of(os.path.join(modules_dir, entry))
        if not text or not text.strip():
            problems.append("%s has no EXAMPLES" % module)
            continue
        for old, new in substitutions.items():
            text = text.replace(old, new)
        text_without = text
        for new in sorted(substitutions.values(), key=len, reverse=True):
            text_without = text_without.replace(new, "")
        leftover = LEFTOVER.findall(text_without)
        if leftover:
            problems.append("%s: EXAMPLES name sockets or paths this target does not provide: %s" % (module, leftover))
            continue
        tasks = yaml.safe_load(text)
        if not isinstance(tasks, list) or not all(isinstance(task, dict) and task.get("name") for task in tasks):
            problems.append("%s: EXAMPLES is not a list of named tasks" % module)
            continue
        path = os.path.join(dest, module + ".yml")
        with open(path, "w") as handle:
            handle.write("---\n# EXAMPLES of %s, written by extract_examples.py (substituted: %s)\n"
                         % (module, ", ".join(substitutions)))
            handle.write(text.lstrip("\n"))
        written.append({"module": module, "file": path, "tasks": len(tasks)})
    if problems:
        sys.exit("\n".join(problems))
    print(json.dumps({"modules_dir": modules_dir, "examples": written}))


if __name__ == "__main__":
    main()
