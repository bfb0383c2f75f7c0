"""Start-up check: a server without keys stays on loopback unless told otherwise."""

from __future__ import annotations

import ipaddress

from tera_serve.config import ServerConfig
from tera_serve.errors import ConfigError
from tera_serve.security.guard import key_store


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name could resolve anywhere


def check_exposure(config: ServerConfig) -> None:
    """Raise ConfigError for an open server on a non-loopback address, or unreadable keys."""
    keys = key_store(config)
    if keys is None and not config.allow_unauthenticated and not is_loopback(config.host):
        raise ConfigError(
            f"refusing to serve {config.host} without API keys: anyone who can reach it could "
            "use it. Give --keys-file (see `tera-serve keys create --help`), --api-key-file or "
            "TERA_API_KEY, "
            "or pass --allow-unauthenticated if something in front of tera-serve checks keys."
        )
