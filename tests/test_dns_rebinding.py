"""The dashboard's WebSocket answers only a Host of localhost, 127.0.0.1 or ::1, so a web
page re-pointed at this machine (DNS rebinding) cannot drive it."""
import base64
import os
import socket
from urllib.parse import urlparse

from tests.test_browser import serve


def _websocket_handshake(port: int, host: str) -> str:
    """The status line the dashboard answers a WebSocket opening with `Host: host`."""

    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request.encode())
        return sock.recv(200).decode(errors="replace").split("\r\n")[0]


def test_the_dashboard_refuses_a_foreign_host_header(tiny_checkpoint):
    """DNS rebinding: a page at evil.example re-pointed at 127.0.0.1 reaches the server
    with `Host: evil.example`; the app's WebSocket (all it shows and does) refuses it."""


    proc, url = serve(tiny_checkpoint)
    try:
        port = urlparse(url).port
        for host in ("evil.example", f"evil.example:{port}"):
            assert _websocket_handshake(port, host) == "HTTP/1.1 403 Forbidden"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            assert _websocket_handshake(port, host) == "HTTP/1.1 101 Switching Protocols"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
