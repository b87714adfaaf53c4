"""Fetch web pages for ``url`` knowledge sources, safely.

The URL comes from a customer of ours, and the worker that fetches it sits inside our
network, so this is a textbook SSRF target. The guard:

- Only ``http``/``https``, no credentials in the URL.
- The hostname is resolved here (``getaddrinfo``) and *every* address it resolves to must be
  public (not private, loopback, link-local, multicast, reserved, unspecified, shared/CGNAT,
  or an IPv4-mapped IPv6 form of those), unless ``allow_private`` (tests, self-hosting).
- **DNS pinning**: the request is then sent to the vetted IP address itself (the URL's host
  is replaced by the IP, the ``Host`` header and the TLS SNI/certificate check keep the real
  hostname). A second DNS answer cannot swap in 127.0.0.1 between the check and the connect
  (DNS rebinding), because there is no second lookup.
- Redirects are followed by hand (at most :data:`MAX_REDIRECTS`) and each hop goes through
  the same check, so a public page redirecting to ``http://127.0.0.1/`` is refused.
- Environment proxies are ignored (``trust_env=False``): a proxy would do its own DNS and
  defeat the pinning.
- The body is streamed and cut off at ``max_bytes`` (after content decoding, so a gzip bomb
  is cut off too); ``timeout`` bounds each network operation and the whole request.

Content types: HTML (``text/html``, ``application/xhtml+xml``) and ``text/plain`` are
accepted — plain text is what a "menu.txt" link or a raw pastebin gives, and the extractor
reads it as TXT. Anything else (PDF, images) is refused with a message telling the owner to
upload the file instead, because a link to a PDF is better added as a file source.

Errors are :class:`IngestionError`; ``transient=True`` for timeouts, connection failures,
temporary DNS failures, HTTP 429 and 5xx — the only ones a retry can fix.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
import urllib.robotparser
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import SplitResult, urldefrag, urljoin, urlsplit, urlunsplit

import httpx

from .errors import IngestionError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_URL_LENGTH = 2048
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB
HTML_TYPES = ("text/html", "application/xhtml+xml")
ACCEPTED_TYPES = (*HTML_TYPES, "text/plain")

# Links to these are never pages; skipping them saves a request each.
_NON_PAGE_EXTENSIONS = frozenset(
    "pdf jpg jpeg png gif webp svg ico bmp tif tiff mp3 mp4 m4a wav ogg webm mov avi zip gz tgz rar 7z "
    "exe dmg apk msi css js json xml rss atom woff woff2 ttf eot doc docx xls xlsx ppt pptx csv txt".split()
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FetchedPage:
    """``url`` as requested, ``final_url`` after redirects (use it to resolve relative links
    and as the extractor's filename), ``content_type`` as the server sent it (with charset)."""

    url: str
    final_url: str
    content_type: str
    data: bytes


# --------------------------------------------------------------------------- public API


def fetch_page(*, url: str, allow_private: bool, timeout: float, max_bytes: int, user_agent: str) -> FetchedPage:
    """Fetch one page (HTML or plain text) behind the SSRF guard. robots.txt is not
    consulted: a single page the owner asked for is like a visit with a browser; only
    :func:`crawl_site`, which discovers pages by itself, obeys robots.txt."""
    with _client(timeout=timeout, user_agent=user_agent) as client:
        page = _fetch(client, url=url, allow_private=allow_private, timeout=timeout, max_bytes=max_bytes)
    _require_page_type(page)
    return page


def crawl_site(
    *,
    start_url: str,
    max_pages: int,
    allow_private: bool,
    timeout: float,
    max_bytes: int,
    user_agent: str,
) -> Iterator[FetchedPage]:
    """Yield up to ``max_pages`` HTML/text pages of one site, breadth first from
    ``start_url``.

    Same host only (if the start page redirects, e.g. to ``www.``, the host it lands on
    becomes the site). robots.txt is fetched through the same guard and obeyed for
    ``user_agent`` (RFC 9309: a 4xx robots.txt means no rules; a 5xx or unreachable one
    means stay out, raised as a transient error so the task retries later). URLs are
    de-duplicated without their fragment. A failure on the start page raises; a failure on
    a later page skips that page, because one broken link should not fail the whole source.
    """
    start_url = normalize_url(start_url)
    with _client(timeout=timeout, user_agent=user_agent) as client:
        robots = _robots_for(client, url=start_url, allow_private=allow_private, timeout=timeout)
        if not robots.can_fetch(user_agent, start_url):
            raise IngestionError(
                "robots_disallowed",
                f"the site's robots.txt asks crawlers not to read {start_url} — add the page "
                "without crawling, or paste its text instead.",
            )
        first = _fetch(client, url=start_url, allow_private=allow_private, timeout=timeout, max_bytes=max_bytes)
        _require_page_type(first)

        site = _origin(first.final_url)
        if site != _origin(start_url):
            robots = _robots_for(client, url=first.final_url, allow_private=allow_private, timeout=timeout)
        seen = {start_url, normalize_url(first.final_url)}
        queue: deque[str] = deque()
        yielded = 0
        page: FetchedPage | None = first
        # Bound the work on sites full of broken or non-HTML links.
        attempts_left = max_pages * 3
        while page is not None:
            yield page
            yielded += 1
            if yielded >= max_pages:
                return
            if _media_type(page.content_type) in HTML_TYPES:
                for link in extract_links(html=page.data, base_url=page.final_url, content_type=page.content_type):
                    if link not in seen and _origin(link) == site and not _looks_like_file(link):
                        seen.add(link)
                        queue.append(link)
            page = None
            while queue and attempts_left > 0:
                link = queue.popleft()
                attempts_left -= 1
                if not robots.can_fetch(user_agent, link):
                    continue
                try:
                    candidate = _fetch(
                        client, url=link, allow_private=allow_private, timeout=timeout, max_bytes=max_bytes
                    )
                    _require_page_type(candidate)
                except IngestionError as exc:
                    logger.info("crawl: skipping %s: %s", link, exc.code)
                    continue
                final = normalize_url(candidate.final_url)
                if final != link and (final in seen or _origin(final) != site):
                    continue  # a redirect to a page we already have, or off the site
                seen.add(final)
                page = candidate
                break


def check_url_allowed(*, url: str, allow_private: bool) -> list[IPAddress]:
    """Validate a URL and resolve its host; return the addresses that may be connected to.
    Raises :class:`IngestionError` if the URL is not fetchable or not allowed."""
    parts = _split(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return resolve_public_addresses(host=parts.hostname or "", port=port, allow_private=allow_private)


def resolve_public_addresses(*, host: str, port: int, allow_private: bool) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses; refuse if *any* of them is not public
    (a name that resolves to both a public and a private address is an attack, not a
    load balancer)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise IngestionError("invalid_url", f"{host} is not a valid web address — check the link.") from exc
    except socket.gaierror as exc:
        temporary = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None))
        raise IngestionError(
            "dns_failed",
            f"the address {host} could not be found"
            + (" right now — we will try again." if temporary else " — check the link for typos."),
            transient=temporary,
        ) from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise IngestionError("dns_failed", f"the address {host} could not be found — check the link for typos.")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise IngestionError(
                    "blocked_address",
                    f"{host} points to a private or local network address ({address}); we only "
                    "fetch pages from the public internet.",
                )
    return addresses


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None and not is_public_address(mapped):
            return False
        if address.teredo is not None:
            return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global  # also catches 100.64.0.0/10 (carrier-grade NAT)
    )


def normalize_url(url: str) -> str:
    """Canonical form for de-duplication: lowercase scheme and host, no default port, no
    fragment, "/" for an empty path. The query is kept (it often selects the content)."""
    url, _fragment = urldefrag(url.strip())
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def extract_links(*, html: bytes, base_url: str, content_type: str | None = None) -> list[str]:
    """Absolute, normalised http(s) links of an HTML page, in document order, honouring
    ``<base href>``; ``rel=nofollow`` links are skipped."""
    from bs4 import BeautifulSoup

    from .extract import _charset

    soup = BeautifulSoup(html, "lxml", from_encoding=_charset(content_type))
    base_tag = soup.find("base", href=True)
    base = urljoin(base_url, str(base_tag["href"])) if base_tag else base_url
    links: list[str] = []
    for anchor in soup.find_all("a", href=True):
        rel = anchor.get("rel") or []
        if "nofollow" in rel:
            continue
        href = str(anchor["href"]).strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
            continue
        try:
            absolute = normalize_url(urljoin(base, href))
        except ValueError:
            continue  # malformed href (bad port, bad IPv6 literal)
        if urlsplit(absolute).scheme in ("http", "https") and absolute not in links:
            links.append(absolute)
    return links


# --------------------------------------------------------------------------- internals


def _client(*, timeout: float, user_agent: str) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # every hop must pass the guard; see _fetch
        trust_env=False,  # no proxies from the environment: they would bypass the pinning
        headers={
            "User-Agent": user_agent,
            "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1",
            # Only encodings httpx decodes without optional packages, so max_bytes is counted
            # on the decoded body.
            "Accept-Encoding": "gzip, deflate",
        },
    )


def _split(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise IngestionError("invalid_url", f"the link is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise IngestionError("invalid_url", f"{url} is not a valid web address — check the link.") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise IngestionError(
            "invalid_url", f"{url} is not a web page address — links must start with http:// or https://."
        )
    if not parts.hostname:
        raise IngestionError("invalid_url", f"{url} has no host name — check the link.")
    if parts.username is not None or parts.password is not None:
        raise IngestionError(
            "invalid_url", "links with a user name or password in them are not supported — use the public page address."
        )
    return parts


def _fetch(client: httpx.Client, *, url: str, allow_private: bool, timeout: float, max_bytes: int) -> FetchedPage:
    """GET ``url`` following redirects by hand, each hop guarded and pinned."""
    current = url.strip()
    for _hop in range(MAX_REDIRECTS + 1):
        status, headers, data = _request(
            client, url=current, allow_private=allow_private, timeout=timeout, max_bytes=max_bytes
        )
        if status in (301, 302, 303, 307, 308) and headers.get("location"):
            current = urljoin(current, headers["location"].strip())
            continue
        _raise_for_status(status, url=current)
        return FetchedPage(url=url, final_url=current, content_type=headers.get("content-type", ""), data=data)
    raise IngestionError(
        "too_many_redirects", f"{url} redirects more than {MAX_REDIRECTS} times — check the link in a browser."
    )


def _request(
    client: httpx.Client, *, url: str, allow_private: bool, timeout: float, max_bytes: int
) -> tuple[int, httpx.Headers, bytes]:
    parts = _split(url)
    try:
        target = httpx.URL(url.strip())
        # The ASCII (IDNA) form is what DNS, the Host header and SNI need for "café.fr".
        host = target.raw_host.decode("ascii")
        host_header = target.netloc.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise IngestionError("invalid_url", f"{url} is not a valid web address — check the link.") from exc
    port = target.port or (443 if parts.scheme.lower() == "https" else 80)
    addresses = resolve_public_addresses(host=host, port=port, allow_private=allow_private)
    deadline = time.monotonic() + timeout
    last_error: IngestionError | None = None
    for address in addresses:
        # Pin: connect to the address we just vetted, never let httpx resolve the name again.
        pinned = target.copy_with(host=str(address))
        extensions = {"sni_hostname": host} if parts.scheme.lower() == "https" else {}
        try:
            with client.stream("GET", pinned, headers={"Host": host_header}, extensions=extensions) as response:
                if response.status_code in (301, 302, 303, 307, 308) or response.status_code >= 400:
                    return response.status_code, response.headers, b""
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > max_bytes:
                    raise _too_large(max_bytes)
                chunks: list[bytes] = []
                received = 0
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise _too_large(max_bytes)
                    if time.monotonic() > deadline:
                        # A server trickling bytes would otherwise keep the worker forever.
                        raise httpx.ReadTimeout("total timeout exceeded")
                    chunks.append(chunk)
                return response.status_code, response.headers, b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise IngestionError(
                "timeout",
                f"{host} did not answer within {timeout:g} seconds — we will try again; if it keeps "
                "happening, check that the site opens in a browser.",
                transient=True,
            ) from exc
        except httpx.ConnectError as exc:
            text = str(exc)
            if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
                raise IngestionError(
                    "tls_error",
                    f"{host} has an invalid or expired security certificate (HTTPS) — fix the "
                    "certificate or use a link that opens without warnings in a browser.",
                ) from exc
            last_error = IngestionError(
                "connection_failed",
                f"could not connect to {host} — the site may be down; we will try again.",
                transient=True,
            )
            last_error.__cause__ = exc
            continue  # try the next address of the host
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise IngestionError(
                "connection_failed",
                f"{host} closed the connection before sending the page — we will try again.",
                transient=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise IngestionError(
                "fetch_failed", f"{url} could not be fetched ({type(exc).__name__}) — check the link."
            ) from exc
    assert last_error is not None  # addresses is never empty
    raise last_error


def _raise_for_status(status: int, *, url: str) -> None:
    if status < 300:
        return
    if status in (401, 403):
        raise IngestionError(
            "http_forbidden", f"{url} refused access (HTTP {status}) — the page must be public, without a login."
        )
    if status in (404, 410):
        raise IngestionError("http_not_found", f"{url} does not exist (HTTP {status}) — check the link.")
    if status == 429 or status >= 500:
        raise IngestionError(
            "http_unavailable",
            f"{url} is not answering properly right now (HTTP {status}) — we will try again.",
            transient=True,
        )
    raise IngestionError("http_error", f"{url} answered with an error (HTTP {status}) — check the link.")


def _require_page_type(page: FetchedPage) -> None:
    media = _media_type(page.content_type)
    if media in ACCEPTED_TYPES:
        return
    if not media and page.data.lstrip()[:512].lower().startswith((b"<!doctype html", b"<html")):
        return  # servers that forget the header but clearly send HTML
    what = media or "no content type"
    raise IngestionError(
        "unsupported_content",
        f"{page.final_url} is not a web page ({what}) — if it is a document (PDF, Word), "
        "download it and add it as a file instead.",
    )


def _robots_for(
    client: httpx.Client, *, url: str, allow_private: bool, timeout: float
) -> urllib.robotparser.RobotFileParser:
    robots_url = _origin(url) + "/robots.txt"
    parser = urllib.robotparser.RobotFileParser(robots_url)
    try:
        page = _fetch(client, url=robots_url, allow_private=allow_private, timeout=timeout, max_bytes=ROBOTS_MAX_BYTES)
    except IngestionError as exc:
        if exc.code in ("http_not_found", "http_forbidden", "http_error"):
            parser.parse([])  # RFC 9309 2.3.1.3: "unavailable" (4xx) means no restrictions
            return parser
        if exc.code == "page_too_large":
            parser.parse([])  # absurdly large; a cut-off prefix would be parsed arbitrarily
            return parser
        if not exc.transient:
            raise  # blocked address, unknown host...: the same error the page itself would give
        # 5xx, timeouts, unreachable: RFC 9309 2.3.1.4 says assume everything is disallowed.
        raise IngestionError(
            "robots_unavailable",
            f"the site's robots.txt ({robots_url}) could not be read, so we may not crawl it yet — "
            "we will try again later.",
            transient=True,
        ) from exc
    parser.parse(page.data.decode("utf-8", errors="replace").splitlines())
    return parser


def _origin(url: str) -> str:
    parts = urlsplit(normalize_url(url))
    return f"{parts.scheme}://{parts.netloc}"


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _looks_like_file(url: str) -> bool:
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    return "." in last and last.rsplit(".", 1)[1].lower() in _NON_PAGE_EXTENSIONS


def _too_large(max_bytes: int) -> IngestionError:
    return IngestionError(
        "page_too_large",
        f"the page is larger than {_megabytes(max_bytes)} MB — link to a smaller page, or paste the text you need.",
    )


def _megabytes(size: int) -> str:
    megabytes = size / (1024 * 1024)
    return f"{megabytes:.0f}" if megabytes >= 10 else f"{megabytes:.3g}"
