"""The bare page's server: ``bare_page.html`` and the ``/token`` endpoint it fetches a secret from.

This is the seed app of OpenAI's WebRTC quick start, in miniature: the page's own server holds
the key and mints a short-lived client secret for the page (here from the emulator, with the same
session the widget asks for), and the page posts its offer with that secret. It serves on
127.0.0.1 (a secure context, so the page may open the microphone) and is cross-origin to the
emulator, as the JupyterLab page is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

PAGE = Path(__file__).with_name("bare_page.html")


class BarePageServer:
    """Serves the bare page on a free port of 127.0.0.1, in a thread, until :meth:`stop`."""

    def __init__(self, emulator_base_url: str, session: Mapping[str, Any]) -> None:
        self._calls_url = f"{emulator_base_url}/realtime/calls"
        self._secrets_url = f"{emulator_base_url}/realtime/client_secrets"
        self._session = dict(session)
        self._html = PAGE.read_bytes()
        self._http = httpx.Client(timeout=10)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bare-page-server", daemon=True
        )

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/"

    def start(self) -> BarePageServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._http.close()

    def mint(self) -> dict[str, Any]:
        reply = self._http.post(
            self._secrets_url,
            json={"session": self._session},
            headers={"Authorization": "Bearer sk-bench"},
        )
        reply.raise_for_status()
        secret = reply.json()
        return {
            "value": secret["value"],
            "expires_at": secret["expires_at"],
            "call_url": self._calls_url,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a browser gets from any real server

            def do_GET(self) -> None:  # http.server's name for it
                if self.path.split("?")[0] in ("/", "/index.html"):
                    self._reply(200, "text/html; charset=utf-8", server._html)
                else:
                    self._reply(404, "text/plain", b"not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path != "/token":
                    self._reply(404, "text/plain", b"not found")
                    return
                try:
                    body = json.dumps(server.mint()).encode()
                except httpx.HTTPError as exc:
                    self._reply(502, "text/plain", str(exc).encode())
                    return
                self._reply(200, "application/json", body)

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        return Handler
