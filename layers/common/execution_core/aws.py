"""boto3 clients configured once per container, with bounded timeouts and retries.

Step Functions owns retries (docs/architecture.md §4.2): the SDK makes at most a couple of quick attempts, and
every timeout here is well inside the smallest function timeout that uses it.
"""

import weakref
from typing import Any

import boto3
from botocore.config import Config

# Every client made here, so SnapStart's before-snapshot hook can close their connection pools.
_CLIENTS: weakref.WeakSet[Any] = weakref.WeakSet()


def aws_client(
    service: str, *, connect_timeout: float = 2.0, read_timeout: float = 5.0, max_attempts: int = 2
) -> Any:
    """A client for ``service``; region, credentials and endpoint come from the Lambda environment."""
    client = boto3.client(
        service,
        config=Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
            tcp_keepalive=True,
        ),
    )
    _CLIENTS.add(client)
    return client


def created_clients() -> list[Any]:
    """The clients this process made that are still alive (SnapStart closes their pools, ADR 0014)."""
    return list(_CLIENTS)
