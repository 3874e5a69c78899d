"""Which CRM origins an adapter may call: the guard against a connector config pointing anywhere (SSRF).

Entries look like ``scheme://host[:port]``. In the host, ``*`` stands for exactly one DNS label
(``https://*.my.salesforce.com``); an entry without a port allows only the scheme's default port, and
``:*`` allows any port (``http://127.0.0.1:*`` for the local test server). IP addresses are allowed only
when an entry names that address literally, so a wildcard can never reach a metadata endpoint or a
private network by an IP or numeric host name.

Matching works on a normalized origin (lower case, one trailing dot dropped) and the caller sends its
request to the origin returned here, rebuilt from the parsed parts, never to the raw configured text: what
was checked is exactly what is called.
"""

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["DEFAULT_PORTS", "OriginPattern", "allowed_origin", "parse_allowed_origins"]

DEFAULT_PORTS = {"http": 80, "https": 443}
ANY_PORT = None

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
# Printable ASCII without space; everything else (controls, tabs, non-ASCII look-alikes) is refused up front
# because urlsplit silently strips some of it.
_PLAIN_URL = re.compile(r"^[\x21-\x7e]+$")
_MIN_LITERAL_LABELS = 2

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class OriginPattern:
    """One allow-list entry: a DNS pattern (labels, ``*`` = any one label) or one literal IP address."""

    scheme: str
    labels: tuple[str, ...] | None
    ip: IpAddress | None
    port: int | None  # ANY_PORT (None) when the entry says ``:*``

    def matches(self, scheme: str, host: "_Host", port: int) -> bool:
        if scheme != self.scheme or (self.port is not ANY_PORT and port != self.port):
            return False
        if self.ip is not None or host.ip is not None:
            return self.ip is not None and host.ip is not None and self.ip == host.ip
        if self.labels is None or host.labels is None or len(self.labels) != len(host.labels):
            return False
        return all(want in ("*", got) for want, got in zip(self.labels, host.labels, strict=True))


@dataclass(frozen=True)
class _Host:
    labels: tuple[str, ...] | None
    ip: IpAddress | None
    text: str  # as it goes back into a URL (IPv6 in brackets)


def parse_allowed_origins(text: str) -> tuple[OriginPattern, ...]:
    """Parse the comma-separated allow-list; any malformed entry is a ValueError (misconfiguration)."""
    entries = [entry.strip() for entry in text.split(",")]
    if not any(entries):
        raise ValueError("the allow-list is empty")
    return tuple(_parse_entry(entry) for entry in entries if entry)


def allowed_origin(url: str, patterns: Iterable[OriginPattern]) -> str | None:
    """The normalized origin ``scheme://host[:port]`` of ``url`` if an entry allows it, else None.

    ``url`` must be a bare origin (an optional ``/`` path at most) without credentials.
    """
    parsed = _parse_url(url)
    if parsed is None:
        return None
    scheme, host, port = parsed
    if not any(pattern.matches(scheme, host, port) for pattern in patterns):
        return None
    suffix = "" if port == DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host.text}{suffix}"


def _parse_entry(entry: str) -> OriginPattern:
    scheme, sep, rest = entry.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS or not _PLAIN_URL.match(entry):
        raise ValueError("an allow-list entry must be http(s)://host[:port]")
    if any(char in rest for char in "/?#@\\"):
        raise ValueError("an allow-list entry must be a bare origin without path or credentials")
    host_text, port = _split_port(rest)
    if port == -1:
        port = DEFAULT_PORTS[scheme]
    ip = _ip_literal(host_text)
    if ip is not None:
        return OriginPattern(scheme, None, ip, port)
    labels = _labels(host_text, allow_wildcard=True)
    if labels is None:
        raise ValueError("an allow-list entry has an invalid host")
    wildcards = [i for i, label in enumerate(labels) if label == "*"]
    literal = len(labels) - len(wildcards)
    # Wildcards only on the left and at least two literal labels: "*.com" or "a.*.com" would allow far
    # more than one organisation's hosts.
    if wildcards and (wildcards != list(range(len(wildcards))) or literal < _MIN_LITERAL_LABELS):
        raise ValueError("an allow-list wildcard may only replace leading labels of a registered domain")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise ValueError("an allow-list entry has a numeric host that is not an IP address")
    return OriginPattern(scheme, labels, None, port)


def _split_port(rest: str) -> tuple[str, int | None]:
    """Host text and port: -1 when absent, ANY_PORT for ``*``. IPv6 hosts are in brackets."""
    if rest.startswith("["):
        inside, bracket, tail = rest.partition("]")
        if not bracket:
            raise ValueError("an allow-list entry has an unterminated IPv6 address")
        host = inside + "]"
    else:
        host, colon, port_part = rest.partition(":")
        tail = colon + port_part
    if not tail:
        return host, -1
    if not tail.startswith(":"):
        raise ValueError("an allow-list entry has an invalid port")
    port_text = tail[1:]
    if port_text == "*":
        return host, ANY_PORT
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ValueError("an allow-list entry has an invalid port")
    return host, int(port_text)


def _ip_literal(host: str) -> IpAddress | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if host.startswith("["):
            raise ValueError("an allow-list entry has an invalid IPv6 address") from None
        return None
    if isinstance(address, ipaddress.IPv6Address) and (address.scope_id or not host.startswith("[")):
        raise ValueError("an IPv6 allow-list entry must be in brackets, without a zone")
    return address


def _labels(host: str, *, allow_wildcard: bool) -> tuple[str, ...] | None:
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host or len(host) > 253:
        return None
    labels = tuple(host.split("."))
    for label in labels:
        if not (_LABEL.match(label) or (allow_wildcard and label == "*")):
            return None
    return labels


def _parse_url(url: str) -> tuple[str, _Host, int] | None:
    if not _PLAIN_URL.match(url) or any(char in url for char in "\\@?#"):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or parts.path not in ("", "/"):
        return None
    netloc = parts.netloc
    # An empty or zero port is an oddity, not the default port.
    host = None if netloc.endswith(":") or port == 0 else _url_host(_strip_port(netloc, port))
    if host is None:
        return None
    return parts.scheme, host, port if port is not None else DEFAULT_PORTS[parts.scheme]


def _strip_port(netloc: str, port: int | None) -> str:
    return netloc.rsplit(":", 1)[0] if port is not None else netloc


def _url_host(text: str) -> _Host | None:
    if text.startswith("["):
        v6 = _ipv6_in_brackets(text)
        return _Host(None, v6, f"[{v6.compressed}]") if v6 is not None else None
    try:
        v4 = ipaddress.IPv4Address(text)
    except ValueError:
        labels = _labels(text, allow_wildcard=False)
    else:
        return _Host(None, v4, str(v4))
    # "2130706433", "127.1" or "0x7f.1" are not IPv4 literals to ipaddress but resolvers may read them as
    # 127.0.0.1; no real DNS name ends in a numeric label, so they are refused outright.
    if labels is None or _NUMERIC_LABEL.match(labels[-1]):
        return None
    return _Host(labels, None, ".".join(labels))


def _ipv6_in_brackets(text: str) -> ipaddress.IPv6Address | None:
    if not text.endswith("]"):
        return None
    try:
        v6 = ipaddress.IPv6Address(text[1:-1])
    except ValueError:
        return None
    return None if v6.scope_id else v6
