"""Fetching an image URL from a chat request, safely enough to expose to the public.

A request may carry `{"type": "image_url", "image_url": {"url": "https://..."}}`. Fetching
that URL makes the server a client on the user's behalf, so this module guards against:

- SSRF: the URL must be http(s), carry no user name or password, and name a host the operator
  allowed (`--allowed-media-domains`; off by default). Every address the host resolves to
  must be public: loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT,
  unique-local IPv6, multicast, reserved, and IPv4 hidden inside IPv6 (mapped, 6to4, NAT64)
  are refused.
- DNS rebinding: checking a name's addresses and then letting the HTTP client resolve it again
  would leave a window where a hostile DNS server answers "public" first and "127.0.0.1"
  second. So the check runs at connect time, inside an httpcore network backend: it resolves
  once, validates every address, and connects to the validated IP itself. TLS still verifies
  the certificate for (and sends SNI of) the original host name: httpcore passes
  `server_hostname` from the request's origin to `start_tls`, not the address we connected to.
- Parser differentials: the URL is split once, here, and httpcore is handed the pre-parsed
  scheme, host, port and target, so the host that was checked is the host that is fetched.
- Redirects: followed by hand, each hop checked like the first, up to `max_redirects`.
- Unbounded work: one deadline covers the whole fetch (redirects included), the body is
  refused on its Content-Length or as soon as the bytes read pass `max_bytes`, and h11 bounds
  the response head. Proxies are never used: httpcore does not read `HTTP(S)_PROXY`, and the
  backend refuses Unix sockets. No cookies are kept and only GET is sent.

Every refusal is an `InvalidRequestError` (400) whose message says what to change.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import httpcore

from tera_serve.errors import ConfigError, InvalidRequestError
from tera_serve.media.hosts import (
    IPAddress,
    compile_allowlist,
    host_is_allowed,
    is_public_address,
    normalize_host,
)

_SCHEMES = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_URL_CHARS = 8192
# The request target keeps URL syntax and existing %-escapes; anything else is escaped, so a
# space or control character in the URL cannot reach the request line.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True)
class FetchPolicy:
    allowed_domains: tuple[str, ...]
    """Hosts images may come from: an exact host name (`images.example.com`), or
    `*.example.com` for any subdomain of it (not the bare domain). Empty: URLs are refused."""
    max_bytes: int
    timeout_s: float = 10.0
    """For the whole fetch, redirects included."""
    max_redirects: int = 3
    allow_private_addresses: bool = False
    """Tests only: lets a loopback test server be fetched."""

    def __post_init__(self) -> None:
        # A bad allowlist is the operator's mistake: report it at start-up, not per request.
        compile_allowlist(self.allowed_domains)
        if self.max_bytes <= 0:
            raise ConfigError(f"The media size limit must be positive, not {self.max_bytes}.")
        if not self.timeout_s > 0:
            raise ConfigError(f"The media fetch timeout must be positive, not {self.timeout_s}.")
        if self.max_redirects < 0:
            raise ConfigError(f"The media redirect limit must be >= 0, not {self.max_redirects}.")


async def fetch_url(url: str, policy: FetchPolicy, *, param: str) -> bytes:
    """The body of `url` (at most `policy.max_bytes`), or InvalidRequestError(param=param)."""
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await _fetch(url, policy)
    except _Refused as refusal:
        raise InvalidRequestError(str(refusal), param=param) from None
    except TimeoutError:
        raise InvalidRequestError(_timed_out(policy), param=param) from None


# --- URLs -----------------------------------------------------------------------------------


class _Refused(Exception):
    """A refusal whose message is for the client; fetch_url turns it into a 400."""


@dataclass(frozen=True)
class _Target:
    url: str
    """As given: the base a relative Location is resolved against."""
    scheme: str
    host: str
    """Normalized (normalize_host)."""
    port: int
    target: str
    """Path and query, ASCII."""

    def httpcore_url(self) -> httpcore.URL:
        return httpcore.URL(scheme=self.scheme, host=self.host, port=self.port, target=self.target)

    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if _SCHEMES[self.scheme] == self.port else f"{host}:{self.port}"


def _parse_target(url: str, policy: FetchPolicy) -> _Target:
    """The checked parts of `url`, or _Refused with what is wrong with it."""
    if not policy.allowed_domains:
        raise _Refused(
            "Image URLs are not enabled on this server; send the image as a base64 data URI "
            "(data:image/png;base64,...)."
        )
    if len(url) > _MAX_URL_CHARS:
        raise _Refused(f"The image URL is longer than {_MAX_URL_CHARS} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _Refused("The image URL is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise _Refused(f"Image URLs must be absolute http:// or https:// URLs, not {shown}.")
    if "@" in parts.netloc:
        raise _Refused("Image URLs must not contain a user name or password.")
    try:
        host = normalize_host(parts.hostname or "")
    except ValueError:
        raise _Refused("The image URL does not name a valid host.") from None
    if not host_is_allowed(host, policy.allowed_domains):
        raise _Refused(
            f"Image URLs from '{host}' are not allowed on this server; send the image as a "
            "base64 data URI, or ask the operator to allow the domain."
        )
    if port == 0:
        raise _Refused("The image URL has an invalid port 0.")
    target = quote(parts.path or "/", safe=_TARGET_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_TARGET_SAFE)
    return _Target(url, scheme, host, port or _SCHEMES[scheme], target)


# --- Connect-time address checks ----------------------------------------------------------


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """The TCP addresses of `host`, resolved on the running loop (in its executor)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _Refused(f"Could not resolve the image URL's host '{host}'.") from None
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise _Refused(f"Could not resolve the image URL's host '{host}'.")
    return addresses


# What the guarded backend connects through; a seam for tests.
_new_inner_backend: Callable[[], httpcore.AsyncNetworkBackend] = httpcore.AnyIOBackend


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, refuses non-public addresses, and connects to the checked address."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = _new_inner_backend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port)
        # Every address, not just the first: the inner backend may fall back to any of them.
        if not self._allow_private and not all(map(is_public_address, addresses)):
            raise _Refused(
                f"The image URL's host '{host}' resolves to a private or reserved address; "
                "image URLs must point to the public internet."
            )
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
        if error is None:  # _resolve returns at least one address or refuses
            raise _Refused(f"Could not resolve the image URL's host '{host}'.")
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise _Refused("Image URLs are fetched over TCP only.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# --- The fetch ------------------------------------------------------------------------------


async def _fetch(url: str, policy: FetchPolicy) -> bytes:
    target = _parse_target(url, policy)
    backend = _GuardedBackend(allow_private=policy.allow_private_addresses)
    # A pool per fetch: no connection, and so no state, is shared between users' requests.
    async with httpcore.AsyncConnectionPool(
        network_backend=backend, http1=True, http2=False, retries=0
    ) as pool:
        for _ in range(policy.max_redirects + 1):
            outcome = await _get_once(pool, target, policy)
            if isinstance(outcome, bytes):
                return outcome
            target = _redirect_target(target, outcome, policy)
    raise _Refused(f"Fetching the image URL was redirected more than {policy.max_redirects} times.")


def _redirect_target(current: _Target, location: str, policy: FetchPolicy) -> _Target:
    """The next hop, checked like the first; https never downgrades to plain http (what
    the client sent over TLS must not be fetched in the clear)."""
    target = _parse_target(location, policy)
    if current.scheme == "https" and target.scheme == "http":
        raise _Refused(f"'{current.host}' redirected the image URL from https to http; refused.")
    return target


async def _get_once(
    pool: httpcore.AsyncConnectionPool, target: _Target, policy: FetchPolicy
) -> bytes | str:
    """One GET: the body, or the absolute URL a redirect points to."""
    timeouts = {phase: policy.timeout_s for phase in ("connect", "read", "write", "pool")}
    headers = [
        ("Host", target.host_header()),
        ("User-Agent", "tera-serve"),
        ("Accept", "image/*"),
        ("Accept-Encoding", "identity"),  # the limit then counts the image's own bytes
    ]
    try:
        async with pool.stream(
            "GET", target.httpcore_url(), headers=headers, extensions={"timeout": timeouts}
        ) as response:
            if response.status in _REDIRECT_STATUSES:
                return _redirect_location(response, target)
            if not 200 <= response.status < 300:
                raise _Refused(
                    f"Fetching the image URL failed: '{target.host}' answered HTTP "
                    f"{response.status}."
                )
            return await _read_capped(response, target, policy.max_bytes)
    except httpcore.TimeoutException:
        raise _Refused(_timed_out(policy)) from None
    except httpcore.ConnectError as exc:
        raise _Refused(_connect_failure(target.host, exc)) from None
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol):
        raise _Refused(
            f"Fetching the image URL failed: the connection to '{target.host}' broke or it "
            "sent an invalid HTTP response."
        ) from None


def _redirect_location(response: httpcore.Response, target: _Target) -> str:
    location = _header(response, b"location")
    if location is None:
        raise _Refused(f"'{target.host}' answered a redirect without a Location header.")
    try:
        return urljoin(target.url, location.decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        raise _Refused(f"'{target.host}' answered a redirect to an invalid URL.") from None


async def _read_capped(response: httpcore.Response, target: _Target, max_bytes: int) -> bytes:
    """The body, refused as soon as it is known to exceed `max_bytes`."""
    too_large = _Refused(
        f"The image at '{target.host}' is larger than this server's limit of {max_bytes} bytes."
    )
    declared = _header(response, b"content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in response.aiter_stream():
        if len(body) + len(chunk) > max_bytes:
            raise too_large  # leaving the stream closes the connection: no more is read
        body += chunk
    return bytes(body)


def _header(response: httpcore.Response, name: bytes) -> bytes | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value
    return None


def _timed_out(policy: FetchPolicy) -> str:
    return f"Fetching the image URL timed out after {policy.timeout_s:g} s."


def _connect_failure(host: str, exc: httpcore.ConnectError) -> str:
    # httpcore raises ConnectError `from` the underlying error; a bad certificate is worth naming.
    if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
        return f"Could not fetch the image URL: the TLS certificate of '{host}' is not valid."
    if isinstance(exc.__cause__, ssl.SSLError):
        return f"Could not fetch the image URL: the TLS handshake with '{host}' failed."
    return f"Could not connect to '{host}' to fetch the image URL."
