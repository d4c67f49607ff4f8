"""`interlink serve` with worker processes: the command line's settings reach every worker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from servers import free_port, wait_until_serving

SITE = textwrap.dedent(
    '''
    from interlink import ApiServer

    api = ApiServer(docs=False)

    @api.method(module="home")
    def echo(text: str) -> str:
        return text
    '''
)


def test_max_body_size_and_the_access_log_reach_every_worker(tmp_path: Path) -> None:
    (tmp_path / "workersite.py").write_text(SITE)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "interlink"), "--database", f"sqlite:///{tmp_path / 'site.db'}",
         "serve", "workersite:api", "--port", str(port), "--workers", "2", "--max-body-size", "200"],
        cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", server)
        url = f"http://127.0.0.1:{port}/api/home/echo"
        # Several new connections, so that both workers answer some of them.
        small = [httpx.post(url, data={"text": "hi"}) for _ in range(6)]
        large = [httpx.post(url, data={"text": "x" * 500}) for _ in range(6)]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert [r.status_code for r in small] == [200] * 6, output[-2000:]
    assert [r.status_code for r in large] == [413] * 6, output[-2000:]
    assert large[0].json()["error"]["code"] == "payload_too_large"
    assert output.count('"POST /api/home/echo HTTP/1.1" 413') == 6
