"""template.yaml: lint-clean, translatable offline, and the security properties the design requires."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cfnlint.api import lint

from local_runtime.template import PROJECT_ROOT, TEMPLATE_PATH, load_project_template, load_raw_template

TABLES = {
    "ActionIntentsTable",
    "ExecutionAttemptsTable",
    "ExecutionOutcomesTable",
    "LedgerTable",
    "SignalsTable",
    "TenantsTable",
    "ActionTypeRegistryTable",
    "ExternalWritesTable",
    "InternalObjectsTable",
    "ConnectorConfigTable",
}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_raw_template()


@pytest.fixture(scope="module")
def resources(raw: dict[str, Any]) -> dict[str, Any]:
    return dict(raw["Resources"])


def test_cfn_lint_reports_nothing() -> None:
    matches = lint(TEMPLATE_PATH.read_text(encoding="utf-8"))
    assert [str(m) for m in matches] == []


def test_sam_translator_transforms_offline() -> None:
    translated = load_project_template()
    types = {r["Type"] for r in translated.resources.values()}
    assert not any(t.startswith("AWS::Serverless::") for t in types)
    assert "AWS::Lambda::LayerVersion" in types


def test_every_design_table_is_declared_with_pitr_and_on_demand(resources: dict[str, Any]) -> None:
    tables = {lid for lid, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}
    assert tables == TABLES
    for logical_id in TABLES:
        props = resources[logical_id]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, logical_id
        # Kept when the stack is deleted; a failed first create removes them (no orphans to collide with).
        assert resources[logical_id]["DeletionPolicy"] == "RetainExceptOnCreate", logical_id


def test_ttl_attributes_where_the_design_expects_expiry(resources: dict[str, Any]) -> None:
    ttl = {
        lid: resources[lid]["Properties"].get("TimeToLiveSpecification", {}).get("AttributeName")
        for lid in TABLES
    }
    assert ttl["SignalsTable"] == "expiresAtEpoch"
    assert ttl["ActionIntentsTable"] == "ttl"
    # Audit and write-once records never expire.
    assert ttl["LedgerTable"] is None
    assert ttl["ExecutionOutcomesTable"] is None


def test_listing_indexes_exist(resources: dict[str, Any]) -> None:
    def index_names(logical_id: str) -> set[str]:
        return {i["IndexName"] for i in resources[logical_id]["Properties"].get("GlobalSecondaryIndexes", [])}

    attempt_indexes = {"AccountStartedIndex", "AccountStatusIndex", "RunningIndex"}
    assert index_names("ExecutionAttemptsTable") == attempt_indexes
    assert index_names("LedgerTable") == {"TenantTimeIndex", "TraceIndex"}
    assert index_names("SignalsTable") == {"AccountTimeIndex"}


def test_artifacts_bucket_is_locked_down(resources: dict[str, Any]) -> None:
    props = resources["ArtifactsBucket"]["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    rule = props["LifecycleConfiguration"]["Rules"][0]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "ArtifactRetentionDays"}
    statement = resources["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_user_pool_binds_tenants_only_through_admin_written_attributes(resources: dict[str, Any]) -> None:
    pool = resources["UserPool"]["Properties"]
    client = resources["UserPoolClient"]["Properties"]
    custom = {a["Name"] for a in pool["Schema"] if a["Name"] in {"tenant_id", "account_ids"}}

    assert custom == {"tenant_id", "account_ids"}
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(
        policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )
    assert not any(a.startswith("custom:") for a in client["WriteAttributes"])
    assert {"custom:tenant_id", "custom:account_ids"} <= set(client["ReadAttributes"])
    assert client["GenerateSecret"] is False


def test_globals_pin_the_runtime_and_powertools(raw: dict[str, Any]) -> None:
    function = raw["Globals"]["Function"]
    assert function["Runtime"] == "python3.13"
    assert function["Tracing"] == "Active"
    assert "POWERTOOLS_METRICS_NAMESPACE" in function["Environment"]["Variables"]
    layer = raw["Resources"]["CommonLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    # Built by layers/common/Makefile so the layer ships precompiled bytecode (ADR 0014).
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}


def test_the_layer_makefile_installs_the_hashed_lock_for_arm64_and_precompiles_everything() -> None:
    makefile = (PROJECT_ROOT / "layers" / "common" / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("build-CommonLayer:", 1)[1].replace("\\\n", " ")
    assert "--require-hashes" in recipe
    assert '-r "$(HERE)requirements.txt"' in recipe
    assert "--platform manylinux2014_aarch64" in recipe
    assert '--target "$(SITE)"' in recipe
    assert "SITE = $(ARTIFACTS_DIR)/python" in makefile
    assert 'cp -R "$(HERE)execution_core" "$(SITE)/"' in recipe
    assert "-m compileall" in recipe
    assert "--invalidation-mode unchecked-hash" in recipe


def test_snapstart_is_one_parameter_applied_to_published_versions_of_every_function(
    raw: dict[str, Any],
) -> None:
    parameter = raw["Parameters"]["SnapStart"]
    assert parameter["AllowedValues"] == ["Enabled", "Disabled"]
    assert parameter["Default"] == "Disabled"
    assert raw["Conditions"]["UseSnapStart"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "Enabled"]}
    assert raw["Globals"]["Function"]["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}
    }


def test_alarm_topic_email_is_optional(resources: dict[str, Any]) -> None:
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def _function_statements(resources: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resources[logical_id]["Properties"].get("Policies", []):
        statements.extend(policy.get("Statement", []))
    return statements


def test_functions_have_no_wildcard_resources_for_data_actions(resources: dict[str, Any]) -> None:
    functions = [lid for lid, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    assert functions
    for logical_id in functions:
        statements = _function_statements(resources, logical_id)
        assert statements, f"{logical_id} has no explicit least-privilege statements"
        for statement in statements:
            targets = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            assert "*" not in targets, logical_id
            for action in statement["Action"]:
                assert not action.endswith(":*"), (logical_id, action)


def test_only_the_adapters_may_write_artifacts(resources: dict[str, Any]) -> None:
    """The raw response is stored by the code that holds it: the adapter that made the effect."""
    writers = {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for statement in _function_statements(resources, logical_id)
        if any(a.startswith("s3:Put") for a in statement["Action"])
    }
    assert writers == {"InternalAdapterFunction", "CrmAdapterFunction"}


def _resource_name(resource: Any) -> str:
    """A statement's resource as the logical id (or text) it names, for exact comparisons."""
    if isinstance(resource, dict):
        if "Fn::GetAtt" in resource:
            return str(resource["Fn::GetAtt"][0])
        if "Ref" in resource:
            return str(resource["Ref"])
        if "Fn::Sub" in resource:
            return str(resource["Fn::Sub"])
    return str(resource)


def _grants(resources: dict[str, Any], logical_id: str) -> set[tuple[str, str]]:
    grants = set()
    for statement in _function_statements(resources, logical_id):
        assert statement["Effect"] == "Allow"
        targets = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        grants |= {(action, _resource_name(target)) for action in statement["Action"] for target in targets}
    return grants


def _table(actions: str, *tables: str) -> set[tuple[str, str]]:
    return {(f"dynamodb:{a}", t) for a in actions.split() for t in tables}


EXPECTED_GRANTS: dict[str, set[tuple[str, str]]] = {
    "PrepareExecutionFunction": _table("GetItem", "ActionIntentsTable", "ActionTypeRegistryTable")
    | _table("GetItem PutItem UpdateItem", "ExecutionAttemptsTable")
    | _table("PutItem", "LedgerTable")
    | {
        (
            "states:DescribeExecution",
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-execution:*",
        )
    },
    "InternalAdapterFunction": _table("PutItem", "InternalObjectsTable")
    | _table("ConditionCheckItem", "TenantsTable", "ExecutionAttemptsTable")
    | {("s3:PutObject", "${ArtifactsBucket.Arn}/*")},
    "CrmAdapterFunction": _table("GetItem", "ConnectorConfigTable")
    | _table("GetItem PutItem UpdateItem DeleteItem", "ExternalWritesTable")
    | _table("ConditionCheckItem", "TenantsTable", "ExecutionAttemptsTable")
    | _table("BatchGetItem", "TenantsTable")
    | {
        (
            "secretsmanager:GetSecretValue",
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/crm/*",
        ),
        ("s3:PutObject", "${ArtifactsBucket.Arn}/*"),
    },
    "ExecutionRecorderFunction": _table("GetItem PutItem", "ExecutionOutcomesTable")
    | _table("GetItem UpdateItem", "ExecutionAttemptsTable")
    | _table("PutItem", "LedgerTable", "SignalsTable")
    | _table("ConditionCheckItem", "InternalObjectsTable", "ExternalWritesTable"),
    "ExecutionFailureRecorderFunction": _table("GetItem", "ActionIntentsTable")
    | _table("GetItem PutItem", "ExecutionOutcomesTable")
    | _table("GetItem PutItem UpdateItem", "ExecutionAttemptsTable")
    | _table("PutItem", "LedgerTable", "SignalsTable")
    | _table("GetItem ConditionCheckItem", "InternalObjectsTable", "ExternalWritesTable"),
    # The outbox reads only its own stream, publishes only to the stack's bus, dead-letters to its queue.
    "OutcomePublisherFunction": {
        ("dynamodb:DescribeStream", "ExecutionOutcomesTable"),
        ("dynamodb:GetRecords", "ExecutionOutcomesTable"),
        ("dynamodb:GetShardIterator", "ExecutionOutcomesTable"),
        ("dynamodb:ListStreams", "${ExecutionOutcomesTable.Arn}/stream/*"),
        ("events:PutEvents", "ExecutionEventBus"),
        ("sqs:SendMessage", "PublisherDeadLetterQueue"),
    },
    "ReconcilerFunction": _table("GetItem PutItem", "ExecutionOutcomesTable")
    | _table("GetItem UpdateItem", "ExecutionAttemptsTable")
    | {("dynamodb:Query", "${ExecutionAttemptsTable.Arn}/index/RunningIndex")}
    | _table("PutItem", "LedgerTable", "SignalsTable")
    | _table("GetItem ConditionCheckItem", "InternalObjectsTable", "ExternalWritesTable")
    | {
        (
            "states:DescribeExecution",
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-execution:*",
        ),
        # The adapter's live alias (ADR 0013), never the unqualified function ($LATEST).
        ("lambda:InvokeFunction", "CrmAdapterFunction.Alias"),
    },
}


@pytest.mark.parametrize("function", sorted(EXPECTED_GRANTS))
def test_pipeline_functions_have_exactly_the_permissions_they_use(
    resources: dict[str, Any], function: str
) -> None:
    assert _grants(resources, function) == EXPECTED_GRANTS[function]


def _alias_of(name: str) -> str:
    """``PrepareExecutionFunction.Alias`` (SAM's reference to a function's live alias) → the function."""
    function, _, attribute = name.partition(".")
    assert attribute == "Alias", f"{name} is not a function's alias"
    return function


def test_the_state_machine_invokes_only_the_pipeline_functions_live_aliases(
    resources: dict[str, Any],
) -> None:
    """PerformAction's function is chosen at run time: the role limits it to the adapters Prepare names.

    Only the live aliases, exactly: a grant on the unqualified ARN would let it invoke $LATEST (ADR 0013).
    """
    machine = resources["ExecutionStateMachine"]["Properties"]
    statements = [s for p in machine["Policies"] if "Statement" in p for s in p["Statement"]]
    invoking = [s for s in statements if "lambda:InvokeFunction" in str(s["Action"])]
    assert all(s["Effect"] == "Allow" for s in invoking)
    assert all(set(resource) == {"Ref"} for s in invoking for resource in s["Resource"])
    invoked = {_alias_of(resource["Ref"]) for s in invoking for resource in s["Resource"]}
    assert not any("LambdaInvokePolicy" in p for p in machine["Policies"])  # no name-prefix wildcards
    assert invoked == {
        "PrepareExecutionFunction",
        "InternalAdapterFunction",
        "CrmAdapterFunction",
        "ExecutionRecorderFunction",
        "ExecutionFailureRecorderFunction",
    }
    adapters = resources["PrepareExecutionFunction"]["Properties"]["Environment"]["Variables"][
        "TOOL_ADAPTER_FUNCTIONS"
    ]
    named = {_alias_of(ref) for ref in re.findall(r"\$\{([\w.]+)\}", adapters["Fn::Sub"])}
    assert named == {"InternalAdapterFunction", "CrmAdapterFunction"}
    assert named < invoked
    # The Task states' functions are substituted with the aliases too.
    substituted = {_alias_of(ref["Ref"]) for ref in machine["DefinitionSubstitutions"].values()}
    assert substituted == {
        "PrepareExecutionFunction",
        "ExecutionRecorderFunction",
        "ExecutionFailureRecorderFunction",
    }
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-execution"}


def test_timeouts_nest_inside_each_other(resources: dict[str, Any], raw: dict[str, Any]) -> None:
    """Every client timeout fits inside its function's timeout (one retry owner: Step Functions)."""
    crm = resources["CrmAdapterFunction"]["Properties"]
    crm_env = crm["Environment"]["Variables"]
    read_timeout = raw["Parameters"]["CrmReadTimeoutSeconds"]
    assert crm_env["CRM_READ_TIMEOUT_SECONDS"] == {"Ref": "CrmReadTimeoutSeconds"}
    http_budget = int(crm_env["CRM_CONNECT_TIMEOUT_SECONDS"]) + int(read_timeout["MaxValue"])
    # An upsert and a lookup by external id at the longest allowed read timeout, plus the AWS calls around.
    assert crm["Timeout"] >= 2 * http_budget + 5


# ---------------------------------------------------------------- nothing is lost
@pytest.mark.parametrize("queue", ["ApprovalDeadLetterQueue", "PublisherDeadLetterQueue"])
def test_dead_letter_queues_are_encrypted_keep_14_days_and_refuse_plain_http(
    resources: dict[str, Any], queue: str
) -> None:
    props = resources[queue]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and r["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    assert {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": {"Fn::GetAtt": [queue, "Arn"]},
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in policy["PolicyDocument"]["Statement"]
    assert all(queue in str(s["Resource"]) for s in policy["PolicyDocument"]["Statement"])


def test_the_approval_rule_dead_letters_what_it_cannot_deliver(resources: dict[str, Any]) -> None:
    rule = resources["ExecutionStateMachine"]["Properties"]["Events"]["ActionApproved"]["Properties"]
    assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ApprovalDeadLetterQueue", "Arn"]}}
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    (allow, deny) = resources["ApprovalDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ExecutionStateMachineActionApproved", "Arn"]}}
    }
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    translated = load_project_template().resources
    assert "ExecutionStateMachineActionApproved" in translated  # the rule the policy names exists


def test_the_outbox_stream_drives_the_publisher_with_partial_failures_and_a_dead_letter_queue(
    resources: dict[str, Any],
) -> None:
    table = resources["ExecutionOutcomesTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    mapping = resources["OutcomePublisherStream"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ExecutionOutcomesTable", "StreamArn"]}
    assert mapping["FunctionName"] == {"Ref": "OutcomePublisherFunction.Alias"}  # its live alias (ADR 0013)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 1 <= mapping["MaximumRetryAttempts"] <= 20
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["PublisherDeadLetterQueue", "Arn"]
    }
    assert mapping["FilterCriteria"]["Filters"] == [{"Pattern": '{"eventName": ["INSERT"]}'}]


def test_the_finalizer_hears_every_execution_that_ends_outside_the_pipeline(
    resources: dict[str, Any],
) -> None:
    events = resources["ReconcilerFunction"]["Properties"]["Events"]
    pattern = events["ExecutionEnded"]["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert set(pattern["detail"]["status"]) == {"ABORTED", "TIMED_OUT", "FAILED"}
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "ExecutionStateMachine"}]
    assert events["Sweep"]["Properties"]["Schedule"] == "rate(5 minutes)"


def test_running_attempts_have_a_sparse_index_for_the_sweeper(resources: dict[str, Any]) -> None:
    (index,) = [
        i
        for i in resources["ExecutionAttemptsTable"]["Properties"]["GlobalSecondaryIndexes"]
        if i["IndexName"] == "RunningIndex"
    ]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["running_pk", "running_sk"]
