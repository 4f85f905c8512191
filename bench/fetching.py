"""The fetcher against servers that misbehave: what each costs the fetching process.

A real HTTP server on loopback (the test suite's fixture server) trickles its headers one
byte per 0.25 s, trickles a body one byte per second, sends a gzip bomb (100 MB of zeros
in 100 KB), a 30 MB page without a length, and a 1 GiB page. Each fetch runs in a child
process of its own, which reports the outcome, the seconds it took and how far it raised
the process's peak resident memory. ``--timeout`` is ``NEWSWATCH_FETCH_TIMEOUT`` (default
30 s, the shipped default); the cap on bodies is the shipped 10 MiB.

    .venv/bin/python bench/fetching.py [--timeout 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtureserver import FixtureServer  # noqa: E402

CASES = (("headers trickled, 1 byte / 0.25 s", "fault/trickle-headers"),
         ("body trickled, 1 byte / s", "fault/trickle"),
         ("gzip bomb, 100 MB in 100 KB", "fault/gzip-bomb"),
         ("30 MB page, no length", "fault/huge-page"),
         ("1 GiB page", "wild/gigabyte"))


def fetch_in_child(url: str, timeout: float) -> dict:
    """Run in the child: one page fetch, measured."""
    import resource

    from pipeline.errors import FetchError
    from pipeline.fetch import Fetcher
    from pipeline.settings import Settings

    def peak() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    settings = Settings.load(environ={}, data_dir=Path(tempfile.mkdtemp()), allowed_private_hosts="127.0.0.1",
                             host_delay=0, fetch_timeout=timeout, fetch_retries=0)
    with Fetcher(settings) as fetcher:
        fetcher.fetch_feed(url.rsplit("/", 2)[0] + "/robots.txt")  # connections and imports warmed up
        before, started = peak(), time.monotonic()
        try:
            result = fetcher.fetch_page(url)
            outcome = f"fetched {len(result.body)} bytes"
        except FetchError as error:
            outcome = f"{type(error).__name__}: {error.reason}"
    return {"outcome": outcome, "seconds": time.monotonic() - started,
            "grew_mib": (peak() - before) / 1024, "peak_mib": peak() / 1024}


def measure(url: str, timeout: float) -> dict:
    command = [sys.executable, __file__, "--child", url, "--timeout", str(timeout)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout * 4 + 60)
    if done.returncode != 0:
        return {"outcome": f"child failed: {done.stderr.strip().splitlines()[-1]}", "seconds": 0,
                "grew_mib": 0, "peak_mib": 0}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fetch_in_child(args.child, args.timeout)))
        return 0
    print(f"NEWSWATCH_FETCH_TIMEOUT={args.timeout:g} s, body cap 10 MiB, each fetch in a fresh process\n")
    print(f"| {'server':<36} | {'outcome':<62} | seconds | peak RSS growth (MiB) |")
    print(f"|{'-' * 38}|{'-' * 64}|---------|-----------------------|")
    with FixtureServer() as server:
        server.hang_seconds = args.timeout * 3
        for name, path in CASES:
            row = measure(server.url(path), args.timeout)
            print(f"| {name:<36} | {row['outcome'][:62]:<62} | {row['seconds']:7.2f} | {row['grew_mib']:21.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
