"""The network edge: one signed POST to an integrator's URL, behind the SSRF guard.

The guard is the ingestion crawler's (``assistants.ingestion.fetch``): only http(s), no
credentials in the URL, every address the host resolves to must be public unless
WEBHOOKS_ALLOW_PRIVATE_URLS. It runs again at every send, not just when the endpoint was
created, because DNS can change; and the request goes to the vetted address itself (the
``Host`` header and TLS SNI keep the name), so a second DNS answer cannot swap in an
internal address. Redirects are never followed: a 3xx is a failed attempt. Environment
proxies are ignored (they would resolve the name again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from assistants.ingestion.errors import IngestionError
from assistants.ingestion.fetch import check_url_allowed

USER_AGENT = "Frontdesk-Webhooks/1.0"
RESPONSE_EXCERPT_BYTES = 512


@dataclass(frozen=True)
class SendOutcome:
    """``status_code`` is None when no HTTP answer came back; ``error`` says why in words."""

    status_code: int | None
    error: str
    duration_ms: int
    response_excerpt: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def guard_messages(exc: IngestionError, url: str) -> tuple[str, str]:
    """(code, message) for a URL the guard refused, in webhook words rather than crawler ones."""
    host = urlsplit(url).hostname or url
    if exc.code == "blocked_address":
        return "blocked_address", (f"{host} points to a private, loopback or link-local address; webhooks are only "
                                   "sent to the public internet.")
    if exc.code == "dns_failed":
        return "dns_failed", f"The host {host} could not be found in DNS."
    return "invalid_url", exc.message


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool) -> SendOutcome:
    started = time.monotonic()

    def outcome(status_code: int | None, error: str, excerpt: str = "") -> SendOutcome:
        return SendOutcome(status_code, error, int((time.monotonic() - started) * 1000), excerpt)

    try:
        addresses = check_url_allowed(url=url, allow_private=allow_private)
        target = httpx.URL(url.strip())
        host = target.raw_host.decode("ascii")
        host_header = target.netloc.decode("ascii")
    except IngestionError as exc:
        code, message = guard_messages(exc, url)
        return outcome(None, f"{code}: {message}")
    except (httpx.InvalidURL, UnicodeError):
        return outcome(None, "invalid_url: the URL is not a valid web address.")

    https = target.scheme == "https"
    request_headers = {**headers, "Host": host_header, "User-Agent": USER_AGENT,
                       "Content-Type": "application/json"}
    last_error = ""
    with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client:
        for address in addresses:
            pinned = target.copy_with(host=str(address))
            try:
                with client.stream("POST", pinned, content=body, headers=request_headers,
                                   extensions={"sni_hostname": host} if https else {}) as response:
                    excerpt = b""
                    for chunk in response.iter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= RESPONSE_EXCERPT_BYTES:
                            break
                    text = excerpt[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace")
                    code = response.status_code
                    if 200 <= code < 300:
                        return outcome(code, "", text)
                    if 300 <= code < 400:
                        return outcome(code, f"HTTP {code}: redirects are not followed; use the final URL.", text)
                    return outcome(code, f"HTTP {code}", text)
            except httpx.TimeoutException:
                return outcome(None, f"timeout: no answer within {timeout:g} seconds.")
            except httpx.ConnectError as exc:
                last_error = f"connection_failed: {exc}"[:500]
                continue  # the host's next address
            except httpx.HTTPError as exc:
                return outcome(None, f"{type(exc).__name__}: {exc}"[:500])
    return outcome(None, last_error or "connection_failed")
