"""Which hosts and addresses an image URL may reach: the allowlist and the address policy.

Used by `media/fetch.py` at parse time (the host must be allowed) and at connect time
(every address the host resolves to must be public).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

from tera_serve.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A DNS label after IDNA: letters, digits, '-' (and '_', which real hosts do use).
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# A final label like this is an IPv4 address in a legacy form (`127.1`, `0x7f000001`) to
# getaddrinfo; no real top-level domain looks like one.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
# Ranges whose embedded IPv4 address decides where the packets really go.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")


# --- The address policy -------------------------------------------------------------------


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is on the public internet (unicast, globally routed)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
        if address in _IPV4_COMPATIBLE or address in _SITE_LOCAL:
            return False  # deprecated forms that some stacks still route somewhere local
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


# --- Host names and the allowlist ---------------------------------------------------------


def normalize_host(host: str) -> str:
    """The one comparable form of a host: IDNA ASCII, lower case, no trailing dot; an IP
    address in its canonical text (IPv6 without brackets). ValueError if it is not a host."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if "%" in host:
        raise ValueError("IPv6 zone identifiers are not allowed")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.lower().removesuffix(".")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError("not a valid international domain name") from exc
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("not a valid host name")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise ValueError("a numeric host that is not a standard IP address")
    return name


@dataclass(frozen=True)
class _Allowlist:
    exact: frozenset[str]
    suffixes: tuple[str, ...]
    """`.example.com` for an entry `*.example.com`."""


@functools.lru_cache(maxsize=64)
def compile_allowlist(entries: tuple[str, ...]) -> _Allowlist:
    exact: set[str] = set()
    suffixes: list[str] = []
    for entry in entries:
        wildcard = entry.startswith("*.")
        try:
            host = normalize_host(entry[2:] if wildcard else entry)
            if wildcard and is_ip(host):
                raise ValueError("a wildcard must be followed by a domain name")
        except ValueError as exc:
            raise ConfigError(
                f"Bad allowed media domain {entry!r} ({exc}); use a host name like "
                "'images.example.com', '*.example.com' for its subdomains, or an IP address."
            ) from None
        if wildcard:
            suffixes.append("." + host)
        else:
            exact.add(host)
    return _Allowlist(frozenset(exact), tuple(suffixes))


def host_is_allowed(host: str, allowed_domains: tuple[str, ...]) -> bool:
    """Whether the normalized `host` matches an entry of `allowed_domains` (see FetchPolicy)."""
    allowlist = compile_allowlist(allowed_domains)
    if host in allowlist.exact:
        return True
    # An IP address is allowed only when listed exactly, never through a wildcard.
    return not is_ip(host) and any(host.endswith(suffix) for suffix in allowlist.suffixes)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
