"""The image URL fetcher: address and domain policy, URL checks, and real fetches from a local
HTTP server (limits, redirects, timeouts, and the connect-time address check)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from typing import Any

import httpcore
import pytest

from tera_serve.errors import ConfigError, InvalidRequestError
from tera_serve.media import fetch
from tera_serve.media.fetch import FetchPolicy, fetch_url
from tera_serve.media.hosts import host_is_allowed, is_public_address, normalize_host

IMAGE = bytes(range(256)) * 40  # 10 KiB, every byte value
ENDLESS_CAP = 64 * 1024 * 1024  # the endless body stops here even if nobody stops reading
PARAM = "messages[0].content[1].image_url.url"
HANG_BOUND_S = 30.0  # a bound against a hang, not a latency claim (DESIGN rule 8)

# A policy for the local test server: loopback allowed, as only tests may.
LOCAL = FetchPolicy(("127.0.0.1",), max_bytes=1 << 20, timeout_s=5.0, allow_private_addresses=True)
PUBLIC = FetchPolicy(("images.example.com",), max_bytes=1 << 20)


async def refused(url: str, policy: FetchPolicy) -> str:
    """The message of the 400 that fetching `url` must end in."""
    with pytest.raises(InvalidRequestError) as caught:
        await fetch_url(url, policy, param=PARAM)
    assert caught.value.status == 400
    assert caught.value.param == PARAM
    return caught.value.message


# --- A local HTTP server ----------------------------------------------------------------------


class LocalServer:
    """HTTP/1.1 on 127.0.0.1, one request per connection, routes chosen by path."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.endless_sent = 0
        self.endless_done = asyncio.Event()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            pairs = (line.partition(":") for line in lines if line)
            headers = {name.strip().lower(): value.strip() for name, _, value in pairs}
            self.requests.append((method, path, headers))
            await self._respond(path, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the fetcher hung up: expected for the refusals
        finally:
            writer.close()
            # Collects the reset that ends a refused fetch; unawaited, asyncio logs it.
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _respond(self, path: str, writer: asyncio.StreamWriter) -> None:
        if path == "/image":
            await send(writer, 200, IMAGE)
        elif path.startswith("/hops/"):
            left = int(path.removeprefix("/hops/"))
            if left == 0:
                await send(writer, 200, IMAGE)
            else:  # relative: resolves against /hops/N to /hops/N-1
                await send(writer, 302, b"", location=str(left - 1))
        elif path == "/absolute-hop":
            await send(writer, 301, b"", location=self.url("/image"))
        elif path == "/elsewhere":
            await send(writer, 302, b"", location="http://evil.example.net/image")
        elif path == "/no-location":
            await send(writer, 302, b"")
        elif path == "/huge-declared":
            # Declares a gigabyte, then sends nothing: only a Content-Length check ends this fast.
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(3600)
        elif path == "/endless":
            await self._endless(writer)
        elif path == "/hang":
            await asyncio.sleep(3600)
        else:
            await send(writer, 404, b"not here")

    async def _endless(self, writer: asyncio.StreamWriter) -> None:
        """A chunked body with no declared length that goes on until the client hangs up."""
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * 16384
            while self.endless_sent < ENDLESS_CAP:
                writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                await writer.drain()
                self.endless_sent += len(chunk)
        finally:
            self.endless_done.set()


async def send(
    writer: asyncio.StreamWriter, status: int, body: bytes, *, location: str | None = None
) -> None:
    head = f"HTTP/1.1 {status} Whatever\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    if location is not None:
        head += f"Location: {location}\r\n"
    writer.write(head.encode("latin-1") + b"\r\n" + body)
    await writer.drain()


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    local = LocalServer()
    await local.start()
    yield local
    await local.stop()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if the fetcher gets as far as resolving a host."""

    async def resolve(host: str, port: int) -> list[fetch.IPAddress]:
        raise AssertionError(f"resolved {host}:{port}, but the URL should have been refused")

    monkeypatch.setattr(fetch, "_resolve", resolve)


def resolve_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    """Makes every host name resolve to `addresses`."""

    async def resolve(host: str, port: int) -> list[fetch.IPAddress]:
        return [ipaddress.ip_address(address) for address in addresses]

    monkeypatch.setattr(fetch, "_resolve", resolve)


# --- The address policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("2a00:1450:4001:82b::200e", True),
        ("::ffff:8.8.8.8", True),  # mapped public IPv4 is that public address
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("192.168.1.1", False),
        ("169.254.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("0.0.0.0", False),
        ("100.64.0.1", False),  # CGNAT
        ("192.0.0.1", False),
        ("198.18.0.1", False),  # benchmarking
        ("192.0.2.1", False),  # documentation
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
        ("224.0.0.1", False),  # multicast, though Python calls it global
        ("239.255.255.250", False),
        ("::1", False),
        ("::", False),
        ("fc00::1", False),  # unique local
        ("fd12:3456:789a::1", False),
        ("fe80::1", False),  # link-local
        ("fec0::1", False),  # deprecated site-local
        ("ff02::1", False),  # multicast
        ("ff0e::1", False),
        ("2001:db8::1", False),  # documentation
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::127.0.0.1", False),  # deprecated IPv4-compatible
        ("2002:7f00:1::", False),  # 6to4 wrapping 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 wrapping 10.0.0.1
        ("2002:808:808::", True),  # 6to4 wrapping 8.8.8.8
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2001::1", False),  # Teredo
    ],
)
def test_address_policy(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


# --- Host names and the allowlist -----------------------------------------------------------

ALLOWED = ("images.example.com", "*.example.org", "203.0.113.7", "[2606:4700::1111]")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("images.example.com", True),
        ("IMAGES.Example.COM", True),
        ("images.example.com.", True),
        ("other.example.com", False),
        ("example.com", False),
        ("evilimages.example.com", False),
        ("images.example.com.evil.net", False),
        ("a.example.org", True),
        ("a.b.example.org", True),
        ("A.Example.ORG.", True),
        ("1.example.org", True),
        ("example.org", False),  # the wildcard does not cover the bare domain
        ("evilexample.org", False),  # look-alike, not a subdomain
        ("example.org.evil.net", False),
        ("203.0.113.7", True),
        ("203.0.113.8", False),
        ("2606:4700:0::1111", True),  # the same IPv6 address, another spelling
        ("[2606:4700::1111]", True),
        ("2606:4700::1112", False),
    ],
)
def test_domain_matching(host: str, allowed: bool) -> None:
    assert host_is_allowed(normalize_host(host), ALLOWED) is allowed


def test_wildcards_never_match_an_ip_address() -> None:
    assert not host_is_allowed("93.184.216.34", ("*.example.org",))


def test_international_domain_names_are_compared_in_idna_form() -> None:
    allowed = ("bücher.example",)
    assert host_is_allowed(normalize_host("xn--bcher-kva.example"), allowed)
    assert host_is_allowed(normalize_host("BÜCHER.example."), allowed)
    assert not host_is_allowed(normalize_host("bucher.example"), allowed)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "exa mple.com",
        "a..b",
        "-a.com",
        "a_" * 200,
        "127.1",
        "0x7f000001",
        "2130706433",
        "fe80::1%eth0",
    ],
)
def test_normalize_host_rejects_what_is_not_a_host(host: str) -> None:
    with pytest.raises(ValueError):
        normalize_host(host)


@pytest.mark.parametrize(
    "entry",
    ["*", "*.", "https://images.example.com", "images.example.com:443", "*.203.0.113.7", "a b"],
)
def test_bad_allowlist_entries_are_a_config_error(entry: str) -> None:
    with pytest.raises(ConfigError, match="allowed media domain"):
        FetchPolicy((entry,), max_bytes=1000)


@pytest.mark.parametrize("changes", [{"max_bytes": 0}, {"timeout_s": 0.0}, {"max_redirects": -1}])
def test_bad_limits_are_a_config_error(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        replace(PUBLIC, **changes)


# --- URL checks (nothing is resolved or connected) ------------------------------------------


@pytest.mark.usefixtures("no_network")
async def test_urls_are_refused_when_not_enabled() -> None:
    message = await refused(
        "https://images.example.com/cat.png", replace(PUBLIC, allowed_domains=())
    )
    assert "not enabled" in message
    assert "base64 data URI" in message


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://images.example.com/cat.png",
        "gopher://images.example.com/_GET",
        "javascript:alert(1)",
        "//images.example.com/cat.png",
        "images.example.com/cat.png",
    ],
)
async def test_only_http_and_https_are_fetched(url: str) -> None:
    assert "http:// or https://" in await refused(url, PUBLIC)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@images.example.com/cat.png",
        "https://user@images.example.com/cat.png",
        "https://images.example.com@evil.example.net/cat.png",
        "https://evil.example.net\\@images.example.com/cat.png",
    ],
)
async def test_userinfo_is_refused(url: str) -> None:
    assert "user name or password" in await refused(url, PUBLIC)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://evil.example.net/cat.png", "'evil.example.net' are not allowed"),
        ("https://example.com/cat.png", "'example.com' are not allowed"),
        ("http://127.0.0.1/cat.png", "'127.0.0.1' are not allowed"),
        ("http://[::1]/cat.png", "'::1' are not allowed"),
        ("http://169.254.169.254/latest/meta-data/", "'169.254.169.254' are not allowed"),
        ("http://2130706433/cat.png", "valid host"),
        ("https:///cat.png", "valid host"),
        ("https://images.example.com:99999/cat.png", "not a valid URL"),
        ("https://images.example.com:0/cat.png", "port 0"),
        ("https://images.example.com/" + "a" * 9000, "longer than"),
    ],
)
async def test_hosts_and_urls_outside_the_policy_are_refused(url: str, expected: str) -> None:
    assert expected in await refused(url, PUBLIC)


# --- The connect-time address check ---------------------------------------------------------


@pytest.mark.parametrize(
    "addresses",
    [
        ("10.0.0.5",),
        ("127.0.0.1",),
        ("169.254.169.254",),
        ("::ffff:127.0.0.1",),
        ("93.184.216.34", "192.168.0.10"),  # one bad address among good ones is enough
    ],
)
async def test_an_allowed_host_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, addresses: tuple[str, ...]
) -> None:
    resolve_to(monkeypatch, *addresses)
    message = await refused("https://images.example.com/cat.png", PUBLIC)
    assert "'images.example.com' resolves to a private or reserved address" in message


@pytest.mark.parametrize("allowed", ["127.0.0.1", "localhost"])
async def test_loopback_is_refused_at_connect_time_without_the_test_switch(
    server: LocalServer, allowed: str
) -> None:
    policy = replace(LOCAL, allowed_domains=(allowed,), allow_private_addresses=False)
    message = await refused(f"http://{allowed}:{server.port}/image", policy)
    assert "private or reserved address" in message
    assert server.connections == 0


class RecordingStream(httpcore.AsyncNetworkStream):
    def __init__(self, log: list[str]) -> None:
        self._log = log

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self._log.append(f"tls {server_hostname}")
        raise httpcore.ConnectError("handshake refused by the test")

    async def aclose(self) -> None:
        self._log.append("close")


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Connects nowhere: records what it was asked, refusing the addresses in `down`."""

    def __init__(self, log: list[str], down: Iterable[str] = ()) -> None:
        self._log = log
        self._down = set(down)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self._log.append(f"connect {host}:{port}")
        if host in self._down:
            raise httpcore.ConnectError("down")
        return RecordingStream(self._log)


async def test_connects_to_the_checked_address_and_verifies_tls_for_the_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []
    resolve_to(monkeypatch, "2606:4700::1111", "93.184.216.34")
    monkeypatch.setattr(
        fetch, "_new_inner_backend", lambda: RecordingBackend(log, down={"2606:4700::1111"})
    )
    message = await refused("https://images.example.com/cat.png", PUBLIC)
    assert "'images.example.com'" in message
    # Each checked address in turn, never the name (which could resolve anew), then TLS
    # (SNI and certificate) for the name the URL gave.
    assert log[:3] == [
        "connect 2606:4700::1111:443",
        "connect 93.184.216.34:443",
        "tls images.example.com",
    ]


async def test_a_host_that_does_not_resolve_is_a_400_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def getaddrinfo(*args: object, **kwargs: object) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    message = await refused("https://images.example.com/cat.png", PUBLIC)
    assert message == "Could not resolve the image URL's host 'images.example.com'."


# --- Fetches from the local server ----------------------------------------------------------


async def test_fetch_returns_the_exact_bytes(server: LocalServer) -> None:
    assert await fetch_url(server.url("/image"), LOCAL, param=PARAM) == IMAGE
    [(method, path, headers)] = server.requests
    assert (method, path) == ("GET", "/image")
    assert headers["user-agent"] == "tera-serve"
    assert headers["accept"] == "image/*"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert "cookie" not in headers


async def test_a_body_of_exactly_the_limit_is_fetched(server: LocalServer) -> None:
    assert (
        await fetch_url(server.url("/image"), replace(LOCAL, max_bytes=len(IMAGE)), param=PARAM)
        == IMAGE
    )


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    server: LocalServer,
) -> None:
    message = await refused(server.url("/huge-declared"), LOCAL)
    # The body never comes: a fetcher that read it would end in the timeout's message.
    assert message == (
        "The image at '127.0.0.1' is larger than this server's limit of 1048576 bytes."
    )


async def test_a_chunked_body_over_the_limit_stops_being_read(server: LocalServer) -> None:
    message = await refused(server.url("/endless"), replace(LOCAL, max_bytes=100_000))
    assert "larger than this server's limit of 100000 bytes" in message
    # The fetcher hung up: the server's writes failed long before its own cap.
    await asyncio.wait_for(server.endless_done.wait(), HANG_BOUND_S)
    assert server.endless_sent < ENDLESS_CAP, server.endless_sent


async def test_an_error_status_is_a_400_naming_it(server: LocalServer) -> None:
    message = await refused(server.url("/missing"), LOCAL)
    assert message == "Fetching the image URL failed: '127.0.0.1' answered HTTP 404."


async def test_redirects_within_the_limit_are_followed(server: LocalServer) -> None:
    assert await fetch_url(server.url("/hops/3"), LOCAL, param=PARAM) == IMAGE
    assert [path for _, path, _ in server.requests] == ["/hops/3", "/hops/2", "/hops/1", "/hops/0"]
    assert await fetch_url(server.url("/absolute-hop"), LOCAL, param=PARAM) == IMAGE


async def test_redirects_over_the_limit_are_refused(server: LocalServer) -> None:
    assert "redirected more than 3 times" in await refused(server.url("/hops/4"), LOCAL)
    no_redirects = replace(LOCAL, max_redirects=0)
    assert "redirected more than 0 times" in await refused(server.url("/hops/1"), no_redirects)


async def test_a_redirect_to_a_host_not_allowed_is_refused(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved: list[str] = []
    real_resolve = fetch._resolve

    async def resolve(host: str, port: int) -> list[fetch.IPAddress]:
        resolved.append(host)
        return await real_resolve(host, port)

    monkeypatch.setattr(fetch, "_resolve", resolve)
    message = await refused(server.url("/elsewhere"), LOCAL)
    assert "'evil.example.net' are not allowed" in message
    assert resolved == ["127.0.0.1"]  # the second hop was refused before any look-up


async def test_a_redirect_without_a_location_is_refused(server: LocalServer) -> None:
    assert "without a Location header" in await refused(server.url("/no-location"), LOCAL)


async def test_a_server_that_never_answers_times_out(server: LocalServer) -> None:
    # The server sleeps an hour: only the fetch's own deadline ends this.
    fetching = refused(server.url("/hang"), replace(LOCAL, timeout_s=0.5))
    message = await asyncio.wait_for(fetching, HANG_BOUND_S)
    assert message == "Fetching the image URL timed out after 0.5 s."


async def test_a_refused_connection_is_a_400_naming_the_host() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = await refused(f"http://127.0.0.1:{port}/image", LOCAL)
    assert message == "Could not connect to '127.0.0.1' to fetch the image URL."


def test_a_redirect_from_https_to_http_is_refused() -> None:
    policy = FetchPolicy(allowed_domains=("images.example.com",), max_bytes=1000)
    current = fetch._parse_target("https://images.example.com/a.png", policy)
    with pytest.raises(fetch._Refused, match="from https to http"):
        fetch._redirect_target(current, "http://images.example.com/b.png", policy)
    upgraded = fetch._redirect_target(
        fetch._parse_target("http://images.example.com/a.png", policy),
        "https://images.example.com/b.png",
        policy,
    )
    assert upgraded.scheme == "https" and upgraded.target == "/b.png"
    same = fetch._redirect_target(current, "https://images.example.com/c.png", policy)
    assert (same.scheme, same.host, same.target) == ("https", "images.example.com", "/c.png")
