"""Builders for real input files and a real loopback HTTP server (no mocks)."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def count_tokens(text: str) -> int:
    """A deterministic stand-in tokenizer: a Latin word or number is one token, every other
    visible character (punctuation, each CJK character) is one token."""
    return len(re.findall(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]", text))


# --------------------------------------------------------------------------- files


def make_pdf(pages: list[str | None], *, title: str | None = None) -> bytes:
    """A real PDF; a ``None`` page carries only an image (a scanned page: no text layer)."""
    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    if title:
        pdf.set_title(title)
    for content in pages:
        pdf.add_page()
        if content is None:
            image = Image.new("RGB", (200, 100), (230, 230, 230))
            pdf.image(image, x=10, y=10, w=150)
        else:
            pdf.multi_cell(0, 6, content)
    return bytes(pdf.output())


def make_docx(blocks: list[tuple[str, object]], *, title: str | None = None) -> bytes:
    """blocks: ("heading1", text) / ("title", text) / ("p", text) / ("table", rows)."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for kind, value in blocks:
        if kind == "title":
            document.add_heading(str(value), level=0)
        elif kind.startswith("heading"):
            document.add_heading(str(value), level=int(kind[-1]))
        elif kind == "p":
            document.add_paragraph(str(value))
        elif kind == "table":
            rows = value  # type: ignore[assignment]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))  # type: ignore[arg-type]
            for r, row in enumerate(rows):  # type: ignore[arg-type]
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_zip_bomb_docx(*, uncompressed_mb: int) -> bytes:
    """A .docx-shaped zip whose document.xml is ``uncompressed_mb`` of zeros: tiny on disk."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(uncompressed_mb):
                member.write(block)
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTTP server

Route = tuple[int, dict[str, str], bytes] | Callable[[BaseHTTPRequestHandler], None]


@dataclass
class LoopbackServer:
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [path for path, _host in self.requests]


@contextmanager
def loopback_server() -> Iterator[LoopbackServer]:
    state = LoopbackServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # silence test output
            pass

        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Host", "")))
            route = state.routes.get(self.path)
            if route is None:
                route = (404, {"Content-Type": "text/plain"}, b"not found")
            if callable(route):
                route(self)
                return
            status, headers, body = route
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def html(body: str, *, title: str = "Page") -> tuple[int, dict[str, str], bytes]:
    page = f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()


def slow(seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(request: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        try:
            request.send_response(200)
            request.send_header("Content-Type", "text/html")
            request.send_header("Content-Length", "2")
            request.end_headers()
            request.wfile.write(b"ok")
        except OSError:
            pass  # the client gave up, as intended

    return handler


def make_pdf_bomb(*, uncompressed_mb: int = 80) -> bytes:
    """A one-page PDF whose content stream is ``uncompressed_mb`` of Flate-compressed spaces
    (about 80 KB on disk): past pypdf's 75 MB unpacking limit."""
    import zlib

    from pypdf import PdfWriter
    from pypdf.generic import NameObject, StreamObject

    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    stream = StreamObject()
    stream._data = zlib.compress(b"BT (Menu) Tj ET " + b" " * (uncompressed_mb * 1_000_000), 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
