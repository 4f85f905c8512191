"""`newswatch serve`: refuses without a token, serves a real HTTP port with one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from tests.pipeline.web.conftest import TOKEN


def serve(world, port: int, **env: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    environment.update(NEWSWATCH_DATABASE_URL=world.database_url, **env)
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port)],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_refuses_to_start_without_a_token(sqlite_world):
    process = serve(sqlite_world, free_port())
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "NEWSWATCH_WEB_TOKEN" in err


def test_serve_answers_http_with_the_token(sqlite_world):
    port = free_port()
    process = serve(sqlite_world, port, NEWSWATCH_WEB_TOKEN=TOKEN)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "newswatch serve did not come up"
            time.sleep(0.2)
        page = httpx.get(f"{base}/stories", headers={"Authorization": f"Bearer {TOKEN}"})
        assert page.status_code == 200 and "story-timeline" not in page.text and 'id="stories"' in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert httpx.get(f"{base}/api/stories").status_code == 401
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert TOKEN not in out + err
    assert f"127.0.0.1:{port}" in err
