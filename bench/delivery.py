"""Alert delivery against receivers that misbehave: what each costs the delivering process.

Real receivers on loopback (127.0.0.1 allowed, 127.0.0.2 standing for a private address
such as 10.0.0.7 or 169.254.169.254): redirects to 127.0.0.2, a 1 GiB body (an error's, a redirect's), headers
and a body trickled one byte per 0.5 s, an SMTP server trickling its greeting. Each
delivery runs in a child process of its own, which reports the outcome, the seconds it
took and how far it raised the process's peak resident memory. For comparison, the 1 GiB
body is also sent through plain Apprise, as delivery did before it was guarded.

    .venv/bin/python bench/delivery.py [--timeout 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.mailbox import TricklingMailServer  # noqa: E402
from tests.receiver import WebhookReceiver, flood, redirect, trickle_body, trickle_headers  # noqa: E402

GIB = 1024 ** 3


def deliver_in_child(url: str, timeout: float, plain: bool) -> dict:
    """Run in the child: one delivery, measured."""
    import resource

    import apprise

    from pipeline.delivery import send_alert
    from pipeline.settings import Settings

    apprise.Apprise.instantiate(url)  # Apprise's plugins loaded before the peak is read
    import pipeline.receivers  # noqa: F401

    def peak() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    before, started = peak(), time.monotonic()
    if plain:
        target = apprise.Apprise()
        target.add(url)
        sent, error = bool(target.notify(title="t", body="b")), "(plain Apprise)"
    else:
        settings = Settings.load(environ={}, allowed_private_hosts="127.0.0.1", delivery_timeout=timeout)
        outcome = send_alert(url, "newswatch: alert", "[en] Summit", "{}", settings=settings)
        sent, error = outcome.sent, outcome.error
    return {"sent": sent, "error": error, "seconds": time.monotonic() - started,
            "grew_mib": (peak() - before) / 1024, "peak_mib": peak() / 1024}


def measure(url: str, timeout: float, plain: bool = False) -> dict:
    command = [sys.executable, __file__, "--child", url, "--timeout", str(timeout)] + (["--plain"] if plain else [])
    return json.loads(subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout)


def cases(elsewhere: WebhookReceiver) -> list[tuple[str, object, bool]]:
    metadata = f"http://{elsewhere.address}/latest/meta-data/iam/security-credentials/"
    return [("302 to 127.0.0.2 (metadata path)", redirect(302, metadata), False),
            ("307 to 127.0.0.2 (re-POST)", redirect(307, f"http://{elsewhere.address}/hook"), False),
            ("500 with a 1 GiB body", flood(GIB), False),
            ("500 with a 1 GiB body, plain Apprise", flood(GIB), True),
            ("302 to 127.0.0.2 with a 1 GiB body", flood(GIB, 302, f"http://{elsewhere.address}/"), False),
            ("headers trickled, 1 byte / 0.5 s", trickle_headers(0.5), False),
            ("body trickled, 1 byte / 0.5 s", trickle_body(0.5), False)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=5.0, help="NEWSWATCH_DELIVERY_TIMEOUT for the runs")
    parser.add_argument("--child")
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(deliver_in_child(args.child, args.timeout, args.plain)))
        return 0
    rows = []
    with WebhookReceiver(host="127.0.0.2") as elsewhere:
        for name, answer, plain in cases(elsewhere):
            with WebhookReceiver() as receiver:
                receiver.answer = answer
                rows.append((name, measure(receiver.url, args.timeout, plain)))
        with TricklingMailServer(0.5) as mail:
            rows.append(("SMTP greeting trickled, 1 byte / 0.5 s", measure(mail.url, args.timeout)))
        reached = len(elsewhere.posts)
    print(f"delivery to misbehaving receivers, NEWSWATCH_DELIVERY_TIMEOUT={args.timeout:g} s\n")
    print(f"{'receiver':42} {'sent':>5} {'seconds':>8} {'peak RSS +MiB':>14} {'peak MiB':>9}  reason")
    for name, row in rows:
        reason = (row["error"] or "").split(": ", 1)[-1]
        print(f"{name:42} {str(row['sent']):>5} {row['seconds']:8.2f} {row['grew_mib']:14.1f} "
              f"{row['peak_mib']:9.0f}  {reason[:90]}")
    print(f"\nrequests that reached the redirect target (127.0.0.2): {reached}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
