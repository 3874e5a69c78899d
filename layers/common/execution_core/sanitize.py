"""Turn arbitrary error text into a short, single-line message that is safe to store and return.

Error messages end up in outcomes, ledger entries, API responses and logs. Downstream systems happily put
stack traces, file paths and credentials into their error text, so everything recorded goes through here.
"""

import re

MAX_MESSAGE_LENGTH = 256
REDACTED = "[REDACTED]"
_ELLIPSIS = "..."

# Lines that belong to a Python or JVM stack trace; dropped before anything else happens.
_TRACE_LINE = re.compile(
    r"^\s*(?:Traceback \(most recent call last\):"
    r"|File \".*\", line \d+"
    r"|at [\w$.<>/]+\(.*\)"
    r"|During handling of the above exception"
    r"|The above exception was the direct cause"
    r")"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_WHITESPACE = re.compile(r"\s+")
_BEARER = re.compile(r"(?i)bearer")

# Order matters: credentials with an explicit marker first, then shapes that merely look secret.
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # "Bearer Bearer abc" must not leave "abc" behind, hence the repeated scheme word.
    re.compile(r"(?i:bearer)(?:\s+(?i:bearer))*\s+\S+"),
    re.compile(r"\b(?:Basic|Digest)\s+[A-Za-z0-9+/=._~-]{8,}"),
    # Matches start only at a word start and the name is bounded, so a huge single word stays linear.
    re.compile(
        r"(?i)(?<![\w-])[\w-]{0,32}?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|credential"
        r"|authorization|session|signature|private[_-]?key)[\w-]{0,32}[\"']?\s*[=:]\s*"
        r"(?:\"[^\"]*\"?|'[^']*'?|\S+)"
    ),
    re.compile(r"(?<![\w-])eyJ[\w-]*\.[\w-]*(?:\.[\w-]*)?"),  # JWTs
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b"),  # AWS access key ids
    re.compile(r"\b[0-9a-fA-F]{24,}\b"),  # long hex runs (hashes, keys)
)
# Long base64-looking runs are redacted only when they mix letters and digits, so that long identifiers
# such as ProvisionedThroughputExceededException survive.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_MAX_INPUT = 16_384  # bounds the regex work on huge downstream bodies

_PATH = re.compile(r"(?:\b[A-Za-z]:)?(?:[\\/][\w.@~+-]+){2,}[\\/]?")


def sanitize_message(text: object, max_length: int = MAX_MESSAGE_LENGTH) -> str:
    """Return ``text`` as one bounded line without stack traces, paths or secret-looking tokens."""
    raw = (str(text) if text is not None else "")[:_MAX_INPUT]
    lines = [line for line in raw.splitlines() if not _TRACE_LINE.match(line)]
    flat = _WHITESPACE.sub(" ", _CONTROL.sub(" ", " ".join(lines))).strip()
    # A scheme word glued to earlier text ("xBearer abc") must still start its own match.
    flat = _BEARER.sub(r" \g<0>", flat)
    for pattern in _SECRET_PATTERNS:
        flat = pattern.sub(REDACTED, flat)
    flat = _BASE64_RUN.sub(_redact_secret_looking_run, flat)
    flat = _PATH.sub("[path]", flat)
    flat = _WHITESPACE.sub(" ", flat).strip()
    if len(flat) > max_length:
        flat = flat[: max_length - len(_ELLIPSIS)].rstrip() + _ELLIPSIS
    return flat


def _redact_secret_looking_run(match: re.Match[str]) -> str:
    run = match.group(0)
    has_digit = any(c.isdigit() for c in run)
    has_letter = any(c.isalpha() for c in run)
    return REDACTED if has_digit and has_letter else run
