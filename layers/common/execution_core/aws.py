"""boto3 clients configured once per container, with bounded timeouts and retries.

Step Functions owns retries (docs/architecture.md §4.2): the SDK makes at most a couple of quick attempts, and
every timeout here is well inside the smallest function timeout that uses it.
"""

from typing import Any

import boto3
from botocore.config import Config


def aws_client(
    service: str, *, connect_timeout: float = 2.0, read_timeout: float = 5.0, max_attempts: int = 2
) -> Any:
    """A client for ``service``; region, credentials and endpoint come from the Lambda environment."""
    return boto3.client(
        service,
        config=Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
            tcp_keepalive=True,
        ),
    )
