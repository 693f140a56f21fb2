"""Stand-in for pip's get-pip.py bootstrap script, for machines that cannot reach
the host ansible-test downloads it from (PyPI itself is reachable).

ansible-test runs the cached script inside a fresh virtual environment with the
arguments of a `pip install`. This installs the interpreter's bundled pip with
ensurepip, then runs `pip install` with those arguments, which fetches the
requested pip version from the package index.
"""
import ensurepip
import os
import subprocess
import sys

# ansible-test runs this with a scrubbed environment; keep the system CA bundle
# in use so that an intercepting proxy trusted by the system is trusted here too.
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
if "REQUESTS_CA_BUNDLE" not in os.environ and os.path.exists(SYSTEM_BUNDLE):
    os.environ["REQUESTS_CA_BUNDLE"] = SYSTEM_BUNDLE

# get-pip's own flags; the rest are `pip install` arguments.
OWN_FLAGS = ("--no-setuptools", "--no-wheel")
args = [arg for arg in sys.argv[1:] if arg not in OWN_FLAGS]
ensurepip.bootstrap(upgrade=True)
status = subprocess.call([sys.executable, "-m", "pip", "install"] + args)
if status == 0 and "--no-setuptools" in sys.argv[1:]:
    status = subprocess.call([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "setuptools"])
sys.exit(status)
