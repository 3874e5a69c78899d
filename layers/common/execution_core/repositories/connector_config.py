"""ConnectorConfig table: where each tenant/account's CRM lives; credentials stay in Secrets Manager."""

from execution_core.models.adapters import ConnectorConfig, ConnectorType
from execution_core.repositories import keys
from execution_core.repositories.base import TableRepository
from execution_core.repositories.dynamo import dynamo_errors, key, model_from_item, to_item

STORAGE_ATTRIBUTES = ("pk", "sk")


class ConnectorConfigRepository(TableRepository):
    def put(self, config: ConnectorConfig) -> None:
        item = to_item(
            config,
            pk=keys.account_pk(config.tenant_id, config.account_id),
            sk=keys.connector_sk(config.connector_type.value),
        )
        with dynamo_errors("put connector config"):
            self._client.put_item(TableName=self._table, Item=item)

    def get(self, tenant_id: str, account_id: str, connector_type: ConnectorType) -> ConnectorConfig | None:
        with dynamo_errors("get connector config"):
            response = self._client.get_item(
                TableName=self._table,
                Key=key(
                    pk=keys.account_pk(tenant_id, account_id), sk=keys.connector_sk(connector_type.value)
                ),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return model_from_item(ConnectorConfig, item, STORAGE_ATTRIBUTES) if item else None
