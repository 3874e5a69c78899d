"""The CRM allow-list: only configured origins, no look-alikes, and what is checked is what is called."""

import ipaddress
import string

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution_core.adapters.allowlist import OriginPattern, allowed_origin, parse_allowed_origins
from execution_core.models import ConnectorConfig

ALLOW = parse_allowed_origins(
    "https://*.my.salesforce.com, http://127.0.0.1:*, http://[::1]:8080, https://api.example.com:8443,"
    " https://crm.example.org"
)

CASES = [
    # allowed, normalized to exactly the origin that will be called
    ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com"),
    ("https://acme.my.salesforce.com/", "https://acme.my.salesforce.com"),
    ("https://acme.my.salesforce.com:443", "https://acme.my.salesforce.com"),
    ("HTTPS://ACME.My.SalesForce.COM", "https://acme.my.salesforce.com"),
    ("https://acme.my.salesforce.com.", "https://acme.my.salesforce.com"),
    ("https://crm.example.org", "https://crm.example.org"),
    ("https://api.example.com:8443", "https://api.example.com:8443"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("http://127.0.0.1", "http://127.0.0.1"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("http://[0:0:0:0:0:0:0:1]:8080", "http://[::1]:8080"),
    # '*' is exactly one label
    ("https://my.salesforce.com", None),
    ("https://a.b.my.salesforce.com", None),
    ("https://acme.my.salesforce.com.evil.com", None),
    ("https://acmemy.salesforce.com", None),
    ("https://evil-my.salesforce.com", None),
    # ports: an entry without a port means the default port only
    ("https://acme.my.salesforce.com:8443", None),
    ("https://crm.example.org:444", None),
    ("https://api.example.com", None),
    ("http://[::1]:8081", None),
    ("https://acme.my.salesforce.com:", None),
    ("https://acme.my.salesforce.com:0", None),
    ("https://acme.my.salesforce.com:99999", None),
    ("https://acme.my.salesforce.com:+443", None),
    # schemes
    ("http://acme.my.salesforce.com", None),
    ("https://127.0.0.1:5000", None),
    ("ftp://acme.my.salesforce.com", None),
    ("//acme.my.salesforce.com", None),
    ("acme.my.salesforce.com", None),
    # userinfo and parser confusion
    ("https://user@acme.my.salesforce.com", None),
    ("https://user:pw@acme.my.salesforce.com", None),
    ("https://@acme.my.salesforce.com", None),
    ("https://evil.com@acme.my.salesforce.com", None),
    ("https://acme.my.salesforce.com@evil.com", None),
    ("https://evil.com\\@acme.my.salesforce.com", None),
    ("https://evil.com\\.my.salesforce.com", None),
    ("https://acme.my.salesforce.com%2f@evil.com", None),
    ("https://ac%6de.my.salesforce.com", None),
    ("https://acme.my.salesforce.com\t", None),
    (" https://acme.my.salesforce.com", None),
    ("https://acme.my.salesforce.com\n.evil.com", None),
    ("https://\uff41cme.my.salesforce.com", None),  # full-width look-alike
    # trailing dots: one is the same host; more is not a host
    ("https://acme.my.salesforce.com..", None),
    ("https://.my.salesforce.com", None),
    ("https://acme..my.salesforce.com", None),
    # not a bare origin
    ("https://acme.my.salesforce.com/services", None),
    ("https://acme.my.salesforce.com?x=1", None),
    ("https://acme.my.salesforce.com#frag", None),
    ("https://acme.my.salesforce.com/?", None),
    # IP literals only when named literally, and no numeric disguises of them
    ("http://127.0.0.2:5000", None),
    ("http://127.1:5000", None),
    ("http://2130706433:5000", None),
    ("http://0x7f.0.0.1:5000", None),
    ("http://0177.0.0.1:5000", None),
    ("http://[::ffff:127.0.0.1]:5000", None),
    ("http://[::1%25lo]:8080", None),
    ("http://localhost:5000", None),
    ("https://169.254.169.254", None),
    ("", None),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_allow_list_table(url: str, expected: str | None) -> None:
    assert allowed_origin(url, ALLOW) == expected


@pytest.mark.parametrize(
    "entry",
    [
        "",
        " , ",
        "*.my.salesforce.com",
        "https://*",
        "https://*.com",
        "https://*.*.com",
        "https://a.*.example.com",
        "https://*x.example.com",
        "https://*.my.salesforce.com/",
        "https://*.my.salesforce.com/path",
        "https://user@crm.example.com",
        "gopher://crm.example.com",
        "https://crm.example.com:0",
        "https://crm.example.com:65536",
        "https://crm.example.com:*x",
        "https://crm.example.com:",
        "https://[::1",
        "https://::1",
        "https://[fe80::1%25eth0]",
        "https://1.2.3",
        "https://crm.example.com, ftp://crm.example.com",
    ],
)
def test_malformed_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every refusal is a ValueError by contract
        parse_allowed_origins(entry)


def test_entries_are_parsed_into_patterns() -> None:
    patterns = parse_allowed_origins("https://*.my.salesforce.com,HTTP://127.0.0.1:*,http://localhost:8080")
    assert patterns == (
        OriginPattern("https", ("*", "my", "salesforce", "com"), None, 443),
        OriginPattern("http", None, ipaddress.IPv4Address("127.0.0.1"), None),
        OriginPattern("http", ("localhost",), None, 8080),
    )


def test_any_port_entry_is_only_for_its_own_host_and_scheme() -> None:
    local = parse_allowed_origins("http://127.0.0.1:*")
    assert allowed_origin("http://127.0.0.1:1", local) == "http://127.0.0.1:1"
    assert allowed_origin("http://127.0.0.1:65535", local) == "http://127.0.0.1:65535"
    assert allowed_origin("https://127.0.0.1:8443", local) is None
    assert allowed_origin("http://127.0.0.10:80", local) is None
    assert allowed_origin("http://localhost:8080", local) is None


# ---------------------------------------------------------------- properties
LABEL = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?\Z").filter(
    lambda label: not label.isdigit() and not label.startswith("0x")
)
SALESFORCE = parse_allowed_origins("https://*.my.salesforce.com")


@given(label=LABEL)
def test_wildcard_matches_exactly_one_label(label: str) -> None:
    assert allowed_origin(f"https://{label}.my.salesforce.com", SALESFORCE) == (
        f"https://{label}.my.salesforce.com"
    )
    assert allowed_origin(f"https://{label}.{label}.my.salesforce.com", SALESFORCE) is None
    assert allowed_origin(f"https://{label}.my.salesforce.com.{label}.com", SALESFORCE) is None
    assert allowed_origin(f"https://{label}.salesforce.com", SALESFORCE) is None
    assert allowed_origin(f"https://{label}@{label}.my.salesforce.com", SALESFORCE) is None


@given(label=LABEL, flips=st.lists(st.booleans(), min_size=40, max_size=40), dot=st.booleans())
def test_case_and_one_trailing_dot_do_not_change_the_decision(
    label: str, flips: list[bool], dot: bool
) -> None:
    host = f"{label}.my.salesforce.com"
    mixed = "".join(
        c.upper() if flip else c for c, flip in zip(host, flips + [False] * len(host), strict=False)
    )
    assert allowed_origin(f"https://{mixed}{'.' if dot else ''}", SALESFORCE) == f"https://{host}"


@given(port=st.integers(min_value=1, max_value=65535))
def test_only_the_default_port_without_a_port_entry(port: int) -> None:
    url = f"https://acme.my.salesforce.com:{port}"
    expected = "https://acme.my.salesforce.com" if port == 443 else None
    assert allowed_origin(url, SALESFORCE) == expected
    any_port = parse_allowed_origins("https://*.my.salesforce.com:*")
    assert allowed_origin(url, any_port) == (
        "https://acme.my.salesforce.com" + ("" if port == 443 else f":{port}")
    )


@given(address=st.ip_addresses())
def test_ip_addresses_never_match_a_dns_entry(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    patterns = parse_allowed_origins("https://*.my.salesforce.com,https://*.example.com,http://localhost:*")
    assert allowed_origin(f"https://{host}", patterns) is None
    assert allowed_origin(f"http://{host}:8080", patterns) is None
    assert allowed_origin(f"http://{int(address)}:8080", patterns) is None


URLISH = st.text(alphabet=string.printable + "\uff41@[]:%.", max_size=60)  # with a full-width "a"


@given(tail=URLISH, scheme=st.sampled_from(["https://", "http://", "HTTP://", ""]))
def test_any_text_is_decided_without_error_and_the_result_is_a_fixed_point(tail: str, scheme: str) -> None:
    url = scheme + tail
    result = allowed_origin(url, ALLOW)
    if result is not None:
        # The origin handed to the HTTP client is itself allowed and already normalized.
        assert allowed_origin(result, ALLOW) == result
        assert "@" not in result
        assert result.startswith(("https://", "http://"))


# ---------------------------------------------------------------- the connector model's own check
CONFIG = {
    "tenant_id": "t-1",
    "account_id": "acc-1",
    "connector_type": "CRM",
    "secret_id": "bel-local/crm/t-1/acc-1",
}


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com"),
    ],
)
def test_connector_accepts_plain_http_only_on_loopback(url: str, stored: str) -> None:
    assert ConnectorConfig.model_validate(CONFIG | {"instance_url": url}).instance_url == stored


@pytest.mark.parametrize(
    "url",
    [
        "http://acme.my.salesforce.com",
        "http://127.0.0.2:8080",
        "http://localhost.evil.com",
        "http://10.0.0.1",
        "http://@127.0.0.1:8080",
        "http://user@localhost:8080",
        "http://127.0.0.1:99999",
        "ftp://127.0.0.1",
    ],
)
def test_connector_refuses_plain_http_elsewhere(url: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        ConnectorConfig.model_validate(CONFIG | {"instance_url": url})
