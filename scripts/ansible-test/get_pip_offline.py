"""Stand-in for pip's get-pip.py bootstrap script, for machines that cannot reach
the host ansible-test downloads it from (the package index itself is reachable).

ansible-test seeds ~/.ansible/test/cache/get_pip_<version>.py with the real script
when it can download it. It runs the cached script in-process (runpy, through
ansible_test/_util/target/setup/quiet_pip.py) with the interpreter of a fresh,
empty virtual environment and the arguments of a `pip install` (e.g. `pip==24.2`),
plus get-pip's own `--no-setuptools` and `--no-wheel` flags.

Like get-pip.py, this runs pip in the running interpreter, from a wheel put on
sys.path, so that packages go to that interpreter's environment: the wheel is
the one bundled with the interpreter's ensurepip module. That pip then installs
the requested pip version (and setuptools and wheel unless told not to) from the
package index.
"""
import ensurepip
import glob
import importlib
import os
import sys

# ansible-test runs this with a scrubbed environment; keep the system CA bundle
# in use so that an intercepting proxy trusted by the system is trusted here too.
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
if os.path.exists(SYSTEM_BUNDLE):
    for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE"):
        os.environ.setdefault(name, SYSTEM_BUNDLE)

OWN_FLAGS = ("--no-setuptools", "--no-wheel")


def bundled_pip_wheel():
    """Return the path of the pip wheel bundled with this interpreter's ensurepip."""
    try:
        # CPython 3.11/3.12: {name: _Package(version, wheel_name, wheel_path)};
        # wheel_path is set when a distribution points ensurepip at its own wheels.
        package = ensurepip._get_packages()["pip"]
        if package.wheel_path:
            return package.wheel_path
        return os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", package.wheel_name)
    except (AttributeError, KeyError, TypeError):
        pass
    directories = [os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")]
    directories.append(getattr(ensurepip, "_WHEEL_PKG_DIR", None) or "/usr/share/python-wheels")
    for directory in directories:
        wheels = sorted(glob.glob(os.path.join(directory, "pip-*.whl")))
        if wheels:
            return wheels[-1]
    sys.exit("get_pip_offline: no pip wheel bundled with ensurepip for %s" % sys.executable)


def main():
    argv = sys.argv[1:]
    args = [arg for arg in argv if arg not in OWN_FLAGS]
    if "--no-setuptools" not in argv:
        args.append("setuptools")
    if "--no-wheel" not in argv:
        args.append("wheel")

    wheel = bundled_pip_wheel()
    # Importing pip from the wheel (a zip file) works: it is pure Python. Put it
    # first so that no other pip on sys.path is used.
    sys.path.insert(0, wheel)
    for name in [module for module in sys.modules if module == "pip" or module.startswith("pip.")]:
        del sys.modules[name]

    pip_main = importlib.import_module("pip._internal.cli.main").main
    return pip_main(["install", "--upgrade", "--force-reinstall", "--no-warn-script-location"] + args)


if __name__ == "__main__":
    sys.exit(main())
