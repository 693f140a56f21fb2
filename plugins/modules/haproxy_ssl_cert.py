#!/usr/bin/python
# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: haproxy_ssl_cert
short_description: Replace a TLS certificate that HAProxy serves, through the runtime API, without a reload
version_added: 0.1.0
description:
  - Replaces the certificate (and its private key and chain) of a certificate file that HAProxy already
    serves, with C(set ssl cert <file>) and C(commit ssl cert <file>), without a reload.
  - On any failure after the C(set ssl cert) (HAProxy refuses the commit of a key that does not match the
    certificate, a connection breaks, the re-read shows another certificate), it sends
    C(abort ssl cert <file>) and says so in the error.
  - Idempotent. It compares the serial and the SHA-1 fingerprint that C(show ssl cert <file>) shows with those
    of the given certificate (computed by the module from the PEM, without any Python dependency); a no-op is
    one read connection.
  - The PEM is checked before any connection; a file that HAProxy does not serve (not listed by
    C(show ssl cert)) is refused before anything is written.
  - The private key is sent to HAProxy and, with O(persist=true), written to O(path) (mode C(0600)), and goes
    nowhere else (not in the results, the diff, a warning, an error or a log).
  - Needs a socket of level C(admin) to write; C(operator) is enough to read (check mode, no-ops).
options:
  path:
    description:
      - The certificate file as HAProxy knows it, as C(show ssl cert) lists it (the C(crt) of a C(bind) line,
        or a file of a C(crt-list)).
      - With O(persist=true), also the file written on the host that runs the module.
    type: str
    required: true
  certificate:
    description:
      - The certificate in PEM, the leaf first; intermediate certificates may follow it (the chain).
      - HAProxy replaces the certificate, its chain and its key as one. Without O(private_key) the new certificate
        has no key, and HAProxy refuses to commit it (the certificate served stays). A renewal with the same key
        gives that key again.
      - Kept out of logs like the key (C(no_log)), since a private key pasted here by mistake is refused and must not
        reach the module's invocation that Ansible logs.
    type: str
  private_key:
    description:
      - The private key in PEM, not encrypted (HAProxy cannot take a passphrase through the runtime API).
    type: str
  pem:
    description:
      - The certificate, its chain and its private key in one PEM text, as an C(ssl crt) file holds them.
    type: str
  persist:
    description:
      - Also write the certificate, chain and key to O(path) on the host that runs the module, so that a
        reload serves what the runtime serves. Needs the private key (O(private_key), or in O(pem)).
      - The file is written atomically (a temporary file of mode C(0600) in the same directory, fsync, rename),
        with mode C(0600) and the owner and group of the file it replaces; only when its certificates and key
        differ from those given (or its mode is not C(0600)), and only once every target took the certificate.
    type: bool
    default: false
extends_documentation_fragment:
  - lbops.haproxy.runtime
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Sends only reads, and writes no file.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The subject, serial, SHA-1 fingerprint and end of validity of the certificate, before and after; never the key.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
notes:
  - HAProxy keeps one certificate transaction at a time, for the whole process. A transaction left open on another
    file (a C(set ssl cert) without its commit) makes the module refuse, before anything is sent.
  - The module predicts the diff's C(subject) from the certificate as HAProxy prints it; a subject with an attribute
    type that the module does not name (rare) is shown as its dotted OID in check mode.
  - HAProxy reads a command and its payload into one buffer (C(tune.bufsize), 16 kB by default); a PEM longer than
    15,000 bytes is refused before sending.
seealso:
  - name: HAProxy management guide, set ssl cert
    description: The C(set ssl cert), C(commit ssl cert), C(abort ssl cert) and C(show ssl cert) commands.
    link: https://docs.haproxy.org/3.2/management.html#9.3-set%20ssl%20cert
author:
  - lbops maintainers (@lbops)
"""

EXAMPLES = r"""
- name: Rotate the certificate of the TLS frontend, on both load balancers, and keep it across reloads
  lbops.haproxy.haproxy_ssl_cert:
    socket:
      - /run/haproxy/admin.sock
      - ipv4@10.0.0.2:9999
    path: /etc/haproxy/certs/site.pem
    certificate: "{{ lookup('file', 'site.crt') }}"
    private_key: "{{ site_key }}"
    persist: true
  no_log: false  # the module never shows the key; keep Ansible's own no_log for the variables if you want

- name: Renew with the same key (HAProxy needs the key again)
  lbops.haproxy.haproxy_ssl_cert:
    path: /etc/haproxy/certs/site.pem
    certificate: "{{ renewed_chain }}"
    private_key: "{{ site_key }}"

- name: A combined PEM, as an ssl crt file holds it
  lbops.haproxy.haproxy_ssl_cert:
    path: /etc/haproxy/certs/site.pem
    pem: "{{ lookup('file', 'site.pem') }}"
"""

RETURN = r"""
changed:
  description: Whether any target now serves another certificate, or the file was written.
  returned: always
  type: bool
persisted:
  description: Whether O(path) was written (or would be, in check mode).
  returned: when O(persist=true)
  type: bool
results:
  description: One item per target, in the order of O(socket).
  returned: always
  type: list
  elements: dict
  contains:
    socket:
      description: The target.
      returned: always
      type: str
      sample: /run/haproxy/admin.sock
    changed:
      description: Whether this target now serves another certificate.
      returned: always
      type: bool
    failed:
      description: Whether this target failed.
      returned: always
      type: bool
    msg:
      description: Why this target failed.
      returned: when failed
      type: str
    path:
      description: The certificate file.
      returned: success
      type: str
    before:
      description: The certificate HAProxy served before the run.
      returned: success
      type: dict
      sample: {"subject": "/CN=www.example.com", "serial": "7F1090A43DD454E4",
               "fingerprint": "23FA96D9DA0F0C8C77F7D1253673298D4C51BBDF", "not_after": "Jan  1 10:14:27 2027 GMT"}
    after:
      description: The certificate HAProxy serves after the run (re-read), or would serve, in check mode.
      returned: success
      type: dict
    commands:
      description: The write commands sent (or that would be sent, in check mode); never the payload.
      returned: always
      type: list
      elements: str
      sample: ["set ssl cert /etc/haproxy/certs/site.pem <<", "commit ssl cert /etc/haproxy/certs/site.pem"]
diff:
  description: Per target (keyed by socket), and for the file (key C(file:<path>)), the certificate before and after.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: Subject, serial, fingerprint and end of validity before, per target.
      returned: in diff mode
      type: dict
    after:
      description: The same after.
      returned: in diff mode
      type: dict
"""

import os  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.lbops.haproxy.plugins.module_utils import _pem as pem  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._diff import Difference  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._errors import (  # noqa: E402
    CommandError,
    HAProxyError,
    InvalidInput,
    NotFound,
    StateError,
)
from ansible_collections.lbops.haproxy.plugins.module_utils._runner import Definition, Plan, Read, run_module  # noqa: E402
from ansible_collections.lbops.haproxy.plugins.module_utils._transport import MAX_PAYLOAD_BYTES, Payload, clip  # noqa: E402

ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    certificate=dict(type="str", no_log=True),
    private_key=dict(type="str", no_log=True),
    pem=dict(type="str", no_log=True),
    persist=dict(type="bool", default=False),
)
MODULE_KWARGS = dict(mutually_exclusive=[("pem", "certificate"), ("pem", "private_key")],
                     required_one_of=[("pem", "certificate")], required_by={"private_key": ("certificate",)})

SHOWN = ("subject", "serial", "fingerprint", "not_after")
FILE_MODE = 0o600


class CertRequest(object):
    def __init__(self, params):
        self.path = params["path"]
        odd = [char for char in self.path or "" if char.isspace() or ord(char) < 0x20 or char == "\\"]
        if not self.path or odd or self.path.startswith("*"):
            raise InvalidInput("path must be a certificate file name as 'show ssl cert' lists it, without blanks, "
                               "control characters or backslashes, got %r" % clip(self.path or "", 200))
        self.persist = params["persist"]
        if params.get("pem") is not None:
            blocks = pem.parse_blocks(params["pem"], "pem")
        else:
            blocks = pem.parse_blocks(params["certificate"], "certificate")
            if any(block.label != pem.CERTIFICATE for block in blocks):
                raise InvalidInput("certificate must hold CERTIFICATE blocks only (the key goes in private_key)")
            if params.get("private_key") is not None:
                keys = pem.parse_blocks(params["private_key"], "private_key")
                if any(block.label in (pem.CERTIFICATE,) for block in keys):
                    raise InvalidInput("private_key holds a CERTIFICATE block (the certificate goes in certificate)")
                blocks = blocks + keys
        self.bundle = pem.Bundle(blocks)
        if self.persist and not self.bundle.has_key:
            raise InvalidInput("persist needs the private key (private_key, or in pem): the file must hold it for a reload")
        self.payload = self.bundle.pem()
        self.wanted = self.bundle.leaf
        self.set_command = "set ssl cert %s <<" % self.path
        self.commit_command = "commit ssl cert %s" % self.path
        self.abort_command = "abort ssl cert %s" % self.path
        size = len(self.set_command.encode("utf-8")) + len(self.payload.encode("utf-8")) + 2
        if size > MAX_PAYLOAD_BYTES:
            raise InvalidInput("the PEM makes a command of %d bytes, more than HAProxy reads in one command (%d, "
                               "tune.bufsize)" % (size, MAX_PAYLOAD_BYTES))

    def detail_read(self):
        return Read("detail", "show ssl cert %s" % self.path, pem.parse_cert_detail)

    def scrub(self, text):
        """``text`` without any line of the private key (HAProxy's messages never quote it; this makes sure)."""
        for secret in self.bundle.secret_texts():
            text = text.replace(secret, "[private key]")
        return text


def shown(facts):
    return dict((name, facts.get(name)) for name in SHOWN) if facts else None


def same(facts, wanted):
    return bool(facts) and facts.get("serial") == wanted["serial"] and facts.get("fingerprint") == wanted["fingerprint"]


class SslCert(Definition):
    """A certificate file HAProxy serves: set, commit, and abort on any failure."""

    def request(self, params):
        return CertRequest(params)

    def reads(self, request):
        return [Read("certs", "show ssl cert", pem.parse_cert_list)]

    def plan(self, request, state):
        certs = state["certs"]
        if request.path not in certs["files"]:
            listed = certs["files"]
            hint = ", ".join(listed[:10]) + (", ..." if len(listed) > 10 else "") if listed else "none"
            raise NotFound("HAProxy serves no certificate file '%s' (show ssl cert lists: %s); nothing was sent"
                           % (request.path, hint), None, "show ssl cert", None)
        if "detail" not in state:
            return Plan(more_reads=[request.detail_read()])
        before = shown(state["detail"])
        commands = [] if same(state["detail"], request.wanted) else [request.set_command, request.commit_command]
        after = shown(request.wanted) if commands else before
        if commands:
            others = [path for path in certs["transaction"] if path != request.path]
            if others:
                raise StateError("a certificate transaction is open on '%s' (a 'set ssl cert' without its commit); HAProxy "
                                 "takes one at a time: commit or abort it first; nothing was sent" % others[0])
        result = {"path": request.path, "before": before, "after": after, "commands": list(commands),
                  "changed": bool(commands)}
        # The commit goes out once the set is known to have taken (follow_up): the runner sends the set.
        return Plan([Payload(request.set_command, request.payload)] if commands else [], Difference.whole(before, after),
                    result, level="admin")

    def follow_up(self, step, request, plan):
        # HAProxy 2.6 answers a set on one file while a transaction is open on another with
        # "Transaction updated for certificate <the other file>!" (the payload went into that
        # transaction): never commit then. 3.0 and later refuse such a set.
        taken = " ".join((step.last_outcomes[0].text or "").split()) if step.last_outcomes else ""
        if not taken.endswith(" for certificate %s!" % request.path):
            other = re.match(r"^Transaction (?:created|updated) for certificate (\S+)!$", taken)
            if other:
                # That transaction now holds this payload: committing it would put this certificate on
                # the other file. recover() aborts it.
                plan.data = {"abort": "abort ssl cert %s" % other.group(1)}
            raise StateError("HAProxy did not take the certificate for '%s' (HAProxy: %s); not committed"
                             % (request.path, clip(taken, 300)))
        outcome = step.write([request.commit_command])[0]
        # Success is a data reply ("Committing <file>.", then "Success!"); a failure in the middle of it
        # ends with "Failed!" instead.
        if "Success!" not in (outcome.text or ""):
            raise CommandError("HAProxy did not commit '%s': %s" % (request.path, clip(" ".join((outcome.text or "").split()), 500)),
                               None, request.commit_command, outcome.text)

    def reread(self, request, plan):
        return [request.detail_read()]

    def observe(self, request, state, plan, step):
        after = shown(state["detail"])
        if not same(state["detail"], request.wanted):
            values = (after.get("serial"), after.get("fingerprint"), request.path, request.wanted["serial"], request.wanted["fingerprint"])
            raise StateError("after the commit, HAProxy serves serial %s (fingerprint %s) on '%s', not the certificate given "
                             "(serial %s, fingerprint %s)" % values)
        result = dict(plan.result)
        result["after"] = after
        return result, after

    def changed(self, request, plan, step, result):
        return True

    def recover(self, step, request, plan, error):
        """Abort the transaction after any failure that followed the set; say so in the error."""
        refused = isinstance(error, CommandError) and error.command in (request.set_command, request.commit_command)
        abort = (plan.data or {}).get("abort", request.abort_command)
        try:
            outcome = step.client.write([abort])[0]
        except HAProxyError as exc:
            error.message = "%s; then '%s' failed too (%s): a transaction may be left open" % (
                request.scrub(error.message), abort, exc)
            return
        text = " ".join((outcome.text or "").split())
        if outcome.ok:
            if refused:
                error.changed = False  # nothing was committed, and the transaction is gone
                error.message = error.message.split("; already changed on this target:")[0]
            error.message = "%s; sent '%s' (HAProxy: %s): the certificate served is unchanged" % (
                request.scrub(error.message), abort, text)
        elif text.startswith("No ongoing transaction"):
            if refused and error.command == request.set_command:
                error.changed = False
            error.message = "%s; sent '%s' (HAProxy: %s)" % (request.scrub(error.message), abort, text)
        else:
            # The transaction is another file's (HAProxy refuses to abort it through this file's name).
            error.message = "%s; then '%s' was refused (HAProxy: %s)" % (request.scrub(error.message), abort, text)
        error.commands = [command for command in error.commands if command != abort]

    def finish(self, request, output, check_mode):
        if request.persist:
            persist(request, check_mode, output)


# -- persist ------------------------------------------------------------------


def file_state(path):
    """``(blocks or None, mode or None, stat or None)`` of the file at ``path`` (None: missing or not PEM)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None, None, None
    except OSError as exc:
        raise HAProxyError("cannot read %s: %s" % (path, exc.strerror or exc))
    try:
        with open(path, encoding="utf-8") as handle:
            blocks = pem.parse_blocks(handle.read(), path)
    except (InvalidInput, UnicodeDecodeError):
        blocks = None
    except OSError as exc:
        raise HAProxyError("cannot read %s: %s" % (path, exc.strerror or exc))
    return blocks, stat.S_IMODE(info.st_mode), info


def material(blocks):
    """What a file holds that matters, whatever its layout: the certificates in order, the keys, the parameters."""
    if blocks is None:
        return None
    return ([block for block in blocks if block.label == pem.CERTIFICATE],
            sorted(block.der for block in blocks if block.label != pem.CERTIFICATE))


def file_facts(blocks):
    for block in blocks or []:
        if block.label == pem.CERTIFICATE:
            try:
                return shown(pem.certificate_facts(block.der))
            except InvalidInput:
                return None
    return None


def write_atomically(path, text, old):
    """Write ``text`` to ``path``: a 0600 temporary file in the same directory, fsync, rename, fsync the directory."""
    directory = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        if old is not None and os.geteuid() == 0:
            os.fchown(fd, old.st_uid, old.st_gid)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = None
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        temporary = None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if fd is not None:
            os.close(fd)
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def persist(request, check_mode, output):
    """Write the file once every target took the certificate; the result's ``persisted`` and the file's diff."""
    if any(result["failed"] for result in output["results"]):
        output["persisted"] = False
        return
    blocks, mode, old = file_state(request.path)
    content_differs = material(blocks) != material(request.bundle.blocks)
    write = content_differs or mode != FILE_MODE
    if write and not check_mode:
        try:
            if content_differs:
                write_atomically(request.path, request.payload, old)
            else:
                os.chmod(request.path, FILE_MODE)
        except OSError as exc:
            raise HAProxyError("every target took the certificate, but writing %s failed: %s"
                               % (request.path, exc.strerror or exc))
    output["persisted"] = write
    output["changed"] = output["changed"] or write
    if "diff" in output:
        key = "file:%s" % request.path
        before = file_facts(blocks)
        if before is not None:
            before["mode"] = "%04o" % mode
        after = dict(shown(request.wanted), mode="%04o" % FILE_MODE) if write else before
        output["diff"]["before"][key] = before
        output["diff"]["after"][key] = after


DEFINITION = SslCert()


def main(client_factory=None):
    run_module(AnsibleModule, DEFINITION, ARGUMENT_SPEC, MODULE_KWARGS, client_factory=client_factory)


if __name__ == "__main__":
    main()
