"""A loopback schema registry speaking the part of the Confluent REST API the client uses
(register a schema under a subject, fetch a schema by id). Test infrastructure only."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class _Registry:
    def __init__(self) -> None:
        self.schemas: list[str] = []  # id - 1 -> schema text
        self.subjects: dict[str, list[int]] = {}
        self.lock = threading.Lock()

    def register(self, subject: str, text: str) -> int:
        with self.lock:
            canonical = json.dumps(json.loads(text), sort_keys=True)
            ids = [i for i, s in enumerate(self.schemas, 1) if json.dumps(json.loads(s), sort_keys=True) == canonical]
            schema_id = ids[0] if ids else len(self.schemas) + 1
            if not ids:
                self.schemas.append(text)
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id


class _Handler(BaseHTTPRequestHandler):
    registry: _Registry

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        match = re.fullmatch(r"/subjects/([^/]+)/versions", path)
        if not match:
            return self._reply(404, {"error_code": 404, "message": "not found"})
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if body.get("schemaType", "AVRO") != "AVRO":
            return self._reply(422, {"error_code": 42201, "message": "only AVRO"})
        schema_id = self.registry.register(unquote(match.group(1)), body["schema"])
        self._reply(200, {"id": schema_id})

    def do_GET(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        match = re.fullmatch(r"/schemas/ids/(\d+)", path)
        if match:
            schema_id = int(match.group(1))
            if 0 < schema_id <= len(self.registry.schemas):
                return self._reply(200, {"schema": self.registry.schemas[schema_id - 1]})
            return self._reply(404, {"error_code": 40403, "message": "Schema not found"})
        if path == "/subjects":
            return self._reply(200, sorted(self.registry.subjects))
        self._reply(404, {"error_code": 404, "message": "not found"})


class RegistryServer:
    """Context manager: a registry on 127.0.0.1 at a free port; `.url`."""

    def __init__(self) -> None:
        self.registry = _Registry()
        handler = type("Handler", (_Handler,), {"registry": self.registry})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "RegistryServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
