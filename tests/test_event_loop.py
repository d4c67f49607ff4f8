"""The event loop of `interlink serve`: a busy server lets a burst of new connections in at once.

The measure is the number of turns of the loop a burst needs before every connection is
served, counted by a callback that runs once per turn and holds the loop as a busy server's
turn does. It does not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from servers import free_port, wait_until_serving

from interlink.server import new_event_loop

BURST = 40


class Counting(asyncio.Protocol):
    made = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Counting.made += 1
        transport.write(b"hello")  # served by the loop's own transport, like any connection


async def turns_to_let_a_burst_in(**server: object) -> int:
    """How many busy turns pass between BURST clients connecting and the last one being served."""
    loop = asyncio.get_running_loop()
    Counting.made = 0
    listener = await loop.create_server(Counting, "127.0.0.1", 0, **server)  # type: ignore[arg-type]
    port = listener.sockets[0].getsockname()[1]
    turns = 0

    def busy_turn() -> None:
        nonlocal turns
        turns += 1
        time.sleep(0.002)  # the work of one turn of a loaded server
        loop.call_soon(busy_turn)

    # The kernel completes each handshake on its own: all BURST wait in the listen queue.
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(BURST)]
    loop.call_soon(busy_turn)
    try:
        while Counting.made < BURST and turns < 20 * BURST:
            await asyncio.sleep(0)
        assert Counting.made == BURST
        for client in clients:
            client.settimeout(5)
            assert client.recv(5) == b"hello"
        return turns
    finally:
        for client in clients:
            client.close()
        listener.close()
        await listener.wait_closed()


def run(loop_factory: Callable[[], asyncio.AbstractEventLoop], **server: object) -> int:
    loop = loop_factory()
    try:
        return loop.run_until_complete(turns_to_let_a_burst_in(**server))
    finally:
        loop.close()


def test_a_burst_of_connections_is_let_in_within_a_few_turns() -> None:
    # Accepted in one turn; the transport and connection_made follow in the next two
    # (asyncio's own loop takes 4 here, plain uvloop one turn per connection).
    assert run(new_event_loop) <= 5


def test_plain_uvloop_lets_a_burst_in_one_connection_per_turn() -> None:
    """The control: the reason this loop exists. If a uvloop release takes every waiting
    connection again, this fails, and interlink serve can go back to plain uvloop."""
    uvloop = pytest.importorskip("uvloop")
    assert run(uvloop.new_event_loop) >= BURST // 2


def test_a_listening_socket_given_by_the_caller_is_drained_too() -> None:
    async def given_socket() -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        loop = asyncio.get_running_loop()
        Counting.made = 0
        listener = await loop.create_server(Counting, sock=sock, backlog=BURST)
        clients = [socket.create_connection(sock.getsockname()) for _ in range(BURST)]
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            return Counting.made
        finally:
            for client in clients:
                client.close()
            listener.close()
            await listener.wait_closed()

    loop = new_event_loop()
    try:
        assert loop.run_until_complete(given_socket()) == BURST
    finally:
        loop.close()


def test_a_port_in_use_is_the_usual_error() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    loop = new_event_loop()
    try:
        with pytest.raises(OSError, match="address already in use"):
            loop.run_until_complete(loop.create_server(asyncio.Protocol, "127.0.0.1", taken.getsockname()[1]))
    finally:
        loop.close()
        taken.close()


def test_interlink_serve_answers_and_stops_cleanly_on_its_default_loop(tmp_path: Path) -> None:
    (tmp_path / "loopsite.py").write_text(textwrap.dedent(
        '''
        from interlink import ApiServer

        api = ApiServer(docs=False)

        @api.method(module="home")
        def echo(text: str) -> str:
            return text
        '''
    ))
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "interlink"), "serve", "loopsite:api", "--port", str(port)],
        cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", server)
        with httpx.Client() as client:  # one kept-alive connection, then new ones
            kept = [client.post(f"http://127.0.0.1:{port}/api/home/echo", data={"text": str(i)}) for i in range(3)]
        fresh = [httpx.post(f"http://127.0.0.1:{port}/api/home/echo", data={"text": "new"}) for _ in range(3)]
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]
    assert [r.json() for r in kept] == ["0", "1", "2"], output[-2000:]
    assert [r.json() for r in fresh] == ["new"] * 3
    assert server.returncode == 0, output[-2000:]
    assert "Traceback" not in output and "Finished server process" in output
