"""The status API's fixtures (tests/support/status_api.py): the local API server, fresh tenants, records."""

from tests.support.status_api import api, records, tenant

__all__ = ["api", "records", "tenant"]
