"""Fetching against a real HTTP server on loopback.

Loopback is a private address, so most tests pass ``allow_private=True``. The guard itself
is tested with ``allow_private=False`` against the same server (it must refuse without
sending a request), and the redirect check by pretending — through the module's resolver,
the one seam — that a made-up host "public.test" resolves to a public address that is in
fact our loopback server. That also proves DNS pinning: "public.test" exists in no DNS, so
the request can only arrive because the vetted address was used for the connection.
"""

from __future__ import annotations

import gzip
import ipaddress
import socket
from collections.abc import Iterator

import pytest

from assistants.ingestion import fetch
from assistants.ingestion.errors import IngestionError
from assistants.ingestion.extract import extract_file
from assistants.ingestion.fetch import (
    check_url_allowed,
    crawl_site,
    extract_links,
    fetch_page,
    is_public_address,
    normalize_url,
)

from .helpers import LoopbackServer, html, loopback_server, slow

UA = "FrontdeskBot/1.0 (+https://frontdesk.example/bot)"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as state:
        yield state


def get(url: str, *, allow_private: bool = True, timeout: float = 5.0, max_bytes: int = 1_000_000):
    return fetch_page(url=url, allow_private=allow_private, timeout=timeout, max_bytes=max_bytes, user_agent=UA)


def fetch_error(url: str, **kwargs: object) -> IngestionError:
    with pytest.raises(IngestionError) as info:
        get(url, **kwargs)  # type: ignore[arg-type]
    return info.value


# --------------------------------------------------------------------------- fetch_page


def test_fetches_html_page(server: LoopbackServer) -> None:
    server.routes["/menu"] = html("<h1>Menu</h1>")
    page = get(f"{server.base}/menu")
    assert page.url == page.final_url == f"{server.base}/menu"
    assert page.content_type == "text/html; charset=utf-8"
    assert b"<h1>Menu</h1>" in page.data
    assert server.requests == [("/menu", f"127.0.0.1:{server.port}")]


def test_fetched_page_feeds_the_extractor(server: LoopbackServer) -> None:
    body = "<html><head><meta charset='utf-8'><title>Caf\u00e9</title></head><body><h2>Horaires</h2><p>Ouvert 7j/7</p>"
    server.routes["/"] = (200, {"Content-Type": "text/html; charset=utf-8"}, body.encode())
    page = get(f"{server.base}/")
    document = extract_file(
        data=page.data, filename=page.final_url, content_type=page.content_type, max_pages=1, max_chars=10_000
    )
    assert document.title == "Caf\u00e9"
    assert [(s.heading, s.text) for s in document.sections] == [("Horaires", "Ouvert 7j/7")]


def test_follows_redirects_and_reports_final_url(server: LoopbackServer) -> None:
    server.routes["/old"] = (301, {"Location": "/newer"}, b"")
    server.routes["/newer"] = (302, {"Location": f"{server.base}/new"}, b"")
    server.routes["/new"] = html("new home")
    page = get(f"{server.base}/old")
    assert page.final_url == f"{server.base}/new"
    assert server.paths() == ["/old", "/newer", "/new"]


def test_redirect_loop_stops_after_five_hops(server: LoopbackServer) -> None:
    server.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    error = fetch_error(f"{server.base}/loop")
    assert error.code == "too_many_redirects"
    assert len(server.requests) == 6


def test_plain_text_is_accepted_and_other_types_are_refused(server: LoopbackServer) -> None:
    server.routes["/menu.txt"] = (200, {"Content-Type": "text/plain; charset=utf-8"}, b"Mapo tofu 12.50")
    server.routes["/menu.pdf"] = (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 ...")
    assert get(f"{server.base}/menu.txt").data == b"Mapo tofu 12.50"
    error = fetch_error(f"{server.base}/menu.pdf")
    assert error.code == "unsupported_content"
    assert "application/pdf" in error.message and "as a file" in error.message


def test_body_over_max_bytes_is_refused_by_content_length(server: LoopbackServer) -> None:
    server.routes["/big"] = html("x" * 3_000_000)
    error = fetch_error(f"{server.base}/big", max_bytes=2 * 1024 * 1024)
    assert error.code == "page_too_large"
    assert "larger than 2 MB" in error.message


def test_body_over_max_bytes_is_refused_while_streaming(server: LoopbackServer) -> None:
    def chunked(request) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/html")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        block = b"y" * 65536
        try:
            for _ in range(100):  # 6.4 MB if nobody stops reading
                request.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            request.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up once it had enough — what we want

    server.routes["/stream"] = chunked
    assert fetch_error(f"{server.base}/stream", max_bytes=200_000).code == "page_too_large"


def test_gzip_bomb_is_cut_off_on_the_decoded_size(server: LoopbackServer) -> None:
    body = gzip.compress(b"<html>" + b" " * 20_000_000)
    assert len(body) < 100_000
    server.routes["/bomb"] = (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, body)
    assert fetch_error(f"{server.base}/bomb", max_bytes=1_000_000).code == "page_too_large"


def test_timeout_is_transient(server: LoopbackServer) -> None:
    server.routes["/slow"] = slow(2.0)
    error = fetch_error(f"{server.base}/slow", timeout=0.3)
    assert (error.code, error.transient) == ("timeout", True)


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/")
    assert (error.code, error.transient) == ("connection_failed", True)


@pytest.mark.parametrize(("status", "code", "transient"), [
    (503, "http_unavailable", True), (429, "http_unavailable", True),
    (404, "http_not_found", False), (403, "http_forbidden", False), (400, "http_error", False),
])  # fmt: skip
def test_http_errors_are_classified(server: LoopbackServer, status: int, code: str, transient: bool) -> None:
    server.routes["/x"] = (status, {"Content-Type": "text/html"}, b"error")
    error = fetch_error(f"{server.base}/x")
    assert (error.code, error.transient) == (code, transient)
    assert f"HTTP {status}" in error.message


def test_unknown_host_fails_with_a_clear_message() -> None:
    error = fetch_error("http://no-such-host.invalid/")
    assert error.code == "dns_failed"
    assert "no-such-host.invalid" in error.message


@pytest.mark.parametrize("url", [
    "ftp://example.com/menu", "file:///etc/passwd", "gopher://example.com", "http://user:pw@example.com/",
    "http:///nohost", "http://example.com:99999/",
])  # fmt: skip
def test_only_plain_http_and_https_urls_are_accepted(url: str) -> None:
    assert fetch_error(url, allow_private=False).code == "invalid_url"


# --------------------------------------------------------------------------- SSRF guard


def test_private_address_is_refused_without_sending_a_request(server: LoopbackServer) -> None:
    server.routes["/admin"] = html("secret")
    error = fetch_error(f"{server.base}/admin", allow_private=False)
    assert error.code == "blocked_address"
    assert "127.0.0.1" in error.message
    assert server.requests == []


LOOPBACK_SPELLINGS = ["localhost", "127.0.0.1", "[::1]", "2130706433", "0.0.0.0", "[::ffff:127.0.0.1]"]  # noqa: S104


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_loopback_in_any_spelling_is_refused(host: str) -> None:
    with pytest.raises(IngestionError) as info:
        check_url_allowed(url=f"http://{host}:8080/", allow_private=False)
    assert info.value.code == "blocked_address"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False), ("127.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 — an address to classify, not one we bind to
        ("169.254.169.254", False), ("100.64.0.1", False), ("224.0.0.1", False),
        ("240.0.0.1", False), ("255.255.255.255", False), ("::1", False), ("::", False), ("fe80::1", False),
        ("fc00::1", False), ("ff02::1", False), ("::ffff:10.0.0.1", False), ("2002:7f00:1::", False),
        ("2001:0::1", False), ("8.8.8.8", True), ("93.184.216.34", True), ("2606:4700:4700::1111", True),
    ],
)  # fmt: skip
def test_address_classification(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.fixture
def public_test_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make "public.test" resolve to 127.0.0.1 *as if it were public*; every other host goes
    through the real resolver and the real check."""
    real = fetch.resolve_public_addresses

    def resolver(*, host: str, port: int, allow_private: bool):
        if host == "public.test":
            return [ipaddress.ip_address("127.0.0.1")]
        return real(host=host, port=port, allow_private=allow_private)

    monkeypatch.setattr(fetch, "resolve_public_addresses", resolver)


@pytest.mark.usefixtures("public_test_host")
def test_connection_goes_to_the_vetted_address_with_the_original_host_header(server: LoopbackServer) -> None:
    server.routes["/hello"] = html("hello")
    page = get(f"http://public.test:{server.port}/hello", allow_private=False)
    assert page.final_url == f"http://public.test:{server.port}/hello"
    assert server.requests == [("/hello", f"public.test:{server.port}")]


@pytest.mark.usefixtures("public_test_host")
def test_redirect_from_public_host_to_private_address_is_refused(server: LoopbackServer) -> None:
    server.routes["/go"] = (302, {"Location": f"http://127.0.0.1:{server.port}/internal"}, b"")
    server.routes["/internal"] = html("internal admin")
    error = fetch_error(f"http://public.test:{server.port}/go", allow_private=False)
    assert error.code == "blocked_address"
    assert server.paths() == ["/go"]  # the private hop was never requested


@pytest.mark.usefixtures("public_test_host")
def test_redirect_to_localhost_name_is_refused(server: LoopbackServer) -> None:
    server.routes["/go"] = (307, {"Location": f"http://localhost:{server.port}/internal"}, b"")
    assert fetch_error(f"http://public.test:{server.port}/go", allow_private=False).code == "blocked_address"
    assert server.paths() == ["/go"]


# --------------------------------------------------------------------------- crawl


def crawl(start: str, *, max_pages: int = 10) -> list[str]:
    pages = crawl_site(start_url=start, max_pages=max_pages, allow_private=True, timeout=5.0, max_bytes=1_000_000,
                       user_agent=UA)  # fmt: skip
    return [page.final_url for page in pages]


def test_crawl_is_breadth_first_same_host_deduplicated_and_obeys_robots(server: LoopbackServer) -> None:
    base = server.base
    server.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private\n")
    server.routes["/"] = html(
        '<a href="/a">A</a> <a href="/a#part">A again</a> <a href="b">B</a> <a href="/private/x">P</a>'
        f'<a href="/menu.pdf">PDF</a> <a href="http://localhost:{server.port}/other">other host</a>'
        '<a href="mailto:x@example.com">mail</a> <a href="/broken">broken</a>'
    )
    server.routes["/a"] = html('<a href="/c">C</a> <a href="/">home</a>')
    server.routes["/b"] = html('<a href="/a">A</a>')
    server.routes["/c"] = html("deep")
    urls = crawl(f"{base}/")
    assert urls == [f"{base}/", f"{base}/a", f"{base}/b", f"{base}/c"]
    requested = server.paths()
    assert "/private/x" not in requested and "/menu.pdf" not in requested and "/other" not in requested
    assert requested.count("/a") == 1
    assert all(host == f"127.0.0.1:{server.port}" for _path, host in server.requests)


def test_crawl_stops_at_max_pages(server: LoopbackServer) -> None:
    server.routes["/"] = html("".join(f'<a href="/p{i}">{i}</a>' for i in range(20)))
    for i in range(20):
        server.routes[f"/p{i}"] = html(f"page {i}")
    assert len(crawl(f"{server.base}/", max_pages=3)) == 3
    assert [p for p in server.paths() if p.startswith("/p")] == ["/p0", "/p1"]


def test_crawl_refuses_a_start_page_disallowed_by_robots(server: LoopbackServer) -> None:
    server.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /\n")
    server.routes["/"] = html("home")
    with pytest.raises(IngestionError) as info:
        crawl(f"{server.base}/")
    assert info.value.code == "robots_disallowed"
    assert server.paths() == ["/robots.txt"]


def test_crawl_with_unreachable_robots_waits_and_retries(server: LoopbackServer) -> None:
    server.routes["/robots.txt"] = (503, {"Content-Type": "text/plain"}, b"down")
    server.routes["/"] = html("home")
    with pytest.raises(IngestionError) as info:
        crawl(f"{server.base}/")
    assert (info.value.code, info.value.transient) == ("robots_unavailable", True)


def test_crawl_refuses_private_start_url_when_not_allowed(server: LoopbackServer) -> None:
    server.routes["/"] = html("home")
    with pytest.raises(IngestionError) as info:
        list(crawl_site(start_url=f"{server.base}/", max_pages=5, allow_private=False, timeout=5.0, max_bytes=1000,
                        user_agent=UA))  # fmt: skip
    assert info.value.code == "blocked_address"
    assert server.requests == []


def test_links_are_resolved_against_base_and_normalised() -> None:
    page = b"""<html><head><base href="https://Example.com:443/menu/"></head><body>
    <a href="starters#top">S</a> <a href="/About?x=1">A</a> <a href="//cdn.example.com/">CDN</a>
    <a href="javascript:alert(1)">J</a> <a href="http://example.com:80">root</a>
    <a rel="nofollow" href="/login">L</a> <a href="http://[::1">bad</a></body></html>"""
    assert extract_links(html=page, base_url="https://example.com/") == [
        "https://example.com/menu/starters",
        "https://example.com/About?x=1",
        "https://cdn.example.com/",
        "http://example.com/",
    ]
    assert normalize_url("HTTP://Example.COM:80#frag") == "http://example.com/"
