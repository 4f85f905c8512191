"""The address guard where it matters: in a private network namespace whose loopback
also answers at an "internal" 10.0.0.7 and fec0::7 and at a "public" 93.184.216.34, so
that a request that slipped past the guard would really arrive — and nothing can leave
the machine. Needs root (``unshare -n``); skipped with the reason elsewhere."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

SCENARIOS = textwrap.dedent('''
    import json, subprocess, sys, tempfile, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path
    import socket

    for command in ("ip link set lo up", "ip addr add 10.0.0.7/32 dev lo",
                    "ip addr add 93.184.216.34/32 dev lo", "ip -6 addr add fec0::7/128 dev lo"):
        subprocess.run(command.split(), check=True)

    hits = {"internal": 0}
    FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"

    class Internal(BaseHTTPRequestHandler):
        def do_GET(self):
            hits["internal"] += 1
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
            self.wfile.write(b"ok")
        do_POST = do_GET
        def log_message(self, *args): pass

    class Public(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/redirect/"):
                status, target = self.path.split("/")[2], self.path.split("/", 3)[3]
                self.send_response(int(status)); self.send_header("Location", "http://" + target)
                self.send_header("Content-Length", "0"); self.end_headers(); return
            self.send_response(200); self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(FEED))); self.end_headers(); self.wfile.write(FEED)
        def log_message(self, *args): pass

    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    servers = [ThreadingHTTPServer(("10.0.0.7", 8080), Internal), Server6(("fec0::7", 8080), Internal),
               ThreadingHTTPServer(("93.184.216.34", 8080), Public)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    from pipeline.fetch import Fetcher
    from tests.conftest import make_settings

    settings = make_settings(Path(tempfile.mkdtemp()), allowed_private_hosts="")
    lookups = []

    def resolver(host, port):
        lookups.append(host)
        if host == "rebind.test":  # public for the first lookup, internal after it
            return ["93.184.216.34"] if lookups.count(host) == 1 else ["10.0.0.7"]
        return {"xn--strae-oqa.test": ["93.184.216.34"], "strasse.test": ["10.0.0.7"]}.get(host, [])

    outcomes = {}
    for name, url in [("rebinding", "http://rebind.test:8080/feed"),
                      ("idna", "http://straße.test:8080/feed"),
                      ("redirect-302", "http://93.184.216.34:8080/redirect/302/10.0.0.7:8080/latest"),
                      ("redirect-307", "http://93.184.216.34:8080/redirect/307/10.0.0.7:8080/hook"),
                      ("redirect-site-local", "http://93.184.216.34:8080/redirect/302/[fec0::7]:8080/x"),
                      ("site-local", "http://[fec0::7]:8080/x"),
                      ("internal", "http://10.0.0.7:8080/x")]:
        with Fetcher(settings, resolver=resolver) as fetcher:
            try:
                outcomes[name] = "fetched %d" % fetcher.fetch_feed(url).status
            except Exception as error:
                outcomes[name] = type(error).__name__ + ": " + str(error)
    print(json.dumps({"outcomes": outcomes, "internal_hits": hits["internal"], "lookups": lookups}))
''')


@pytest.fixture(scope="module")
def namespace_run() -> dict:
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private network namespace (unshare -n): {probe.stderr.decode().strip()}")
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", SCENARIOS], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_nothing_reaches_an_internal_address(namespace_run):
    assert namespace_run["internal_hits"] == 0, namespace_run["outcomes"]


@pytest.mark.parametrize("scenario", ["rebinding", "idna"])
def test_a_second_lookup_or_another_encoding_cannot_redirect_the_connection(namespace_run, scenario):
    assert namespace_run["outcomes"][scenario] == "fetched 200"


def test_each_connection_looks_its_host_up_once(namespace_run):
    assert namespace_run["lookups"] == ["rebind.test", "xn--strae-oqa.test"]


@pytest.mark.parametrize("scenario, address", [
    ("redirect-302", "10.0.0.7"), ("redirect-307", "10.0.0.7"),
    ("redirect-site-local", "fec0::7"), ("site-local", "fec0::7"), ("internal", "10.0.0.7"),
])
def test_internal_addresses_are_refused_by_name(namespace_run, scenario, address):
    assert namespace_run["outcomes"][scenario].startswith("PrivateAddressError: refused")
    assert address in namespace_run["outcomes"][scenario]
