"""Where `execctl history` finds the functions' log lines: the local runtime's file, or a stack's
CloudWatch log groups (stubbed here: the request it makes and how it reads the answer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

from execctl.operations import CloudWatchFunctionLogs, FunctionLogFile

SINCE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _line(intent: str, message: str, at: str = "2026-12-01 09:00:01,250+0000", **extra: Any) -> str:
    return json.dumps(
        {
            "level": "INFO",
            "message": message,
            "timestamp": at,
            "function_name": "bel-dev-PrepareExecutionFunction",
            "action_intent_id": intent,
        }
        | extra
    )


def test_the_log_file_gives_this_intents_lines_and_skips_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "functions.log"
    metric = json.dumps({"_aws": {"Timestamp": 1}, "action_intent_id": "ai-1", "ExecutionsStarted": [1.0]})
    log.write_text(
        "\n".join(
            [
                _line("ai-1", "execution prepared"),
                _line("ai-2", "another intent"),
                metric,
                "not json ai-1",
                _line("ai-1", "too early", at="2026-12-01 08:00:00,000+0000"),
                _line("ai-1", "outcome recorded", error_code="NONE"),
            ]
        ),
        encoding="utf-8",
    )

    entries = FunctionLogFile(log).lines_for("ai-1", since=SINCE)

    assert [e.what for e in entries] == ["execution prepared", "outcome recorded"]
    assert entries[0].at == datetime(2026, 12, 1, 9, 0, 1, 250000, tzinfo=UTC)
    assert entries[0].detail["function"] == "bel-dev-PrepareExecutionFunction"
    assert entries[1].detail["error_code"] == "NONE"
    assert FunctionLogFile(tmp_path / "missing.log").lines_for("ai-1", since=SINCE) == []


def test_a_stacks_log_groups_are_searched_by_the_intent_id() -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    logs = boto3.client("logs", region_name="us-east-1")
    clients = {"cloudformation": cloudformation, "logs": logs}
    with Stubber(cloudformation) as cfn_stub, Stubber(logs) as logs_stub:
        cfn_stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "PrepareExecutionFunction",
                        "PhysicalResourceId": "bel-dev-Prepare",
                        "ResourceType": "AWS::Lambda::Function",
                        "LastUpdatedTimestamp": SINCE,
                        "ResourceStatus": "CREATE_COMPLETE",
                    },
                    {
                        "LogicalResourceId": "LedgerTable",
                        "PhysicalResourceId": "bel-dev-Ledger",
                        "ResourceType": "AWS::DynamoDB::Table",
                        "LastUpdatedTimestamp": SINCE,
                        "ResourceStatus": "CREATE_COMPLETE",
                    },
                    {
                        "LogicalResourceId": "PrepareExecutionFunctionLogGroup",
                        "PhysicalResourceId": "/aws/lambda/bel-dev-PrepareExecution",
                        "ResourceType": "AWS::Logs::LogGroup",
                        "LastUpdatedTimestamp": SINCE,
                        "ResourceStatus": "CREATE_COMPLETE",
                    },
                    {
                        "LogicalResourceId": "ReconcilerFunction",
                        "PhysicalResourceId": "bel-dev-Reconciler",
                        "ResourceType": "AWS::Lambda::Function",
                        "LastUpdatedTimestamp": SINCE,
                        "ResourceStatus": "CREATE_COMPLETE",
                    },
                ]
            },
            {"StackName": "bel-dev"},
        )
        logs_stub.add_response(
            "filter_log_events",
            {"events": [{"message": _line("ai-1", "execution prepared"), "timestamp": 1}]},
            {
                "logGroupName": "/aws/lambda/bel-dev-PrepareExecution",  # the template's own group
                "filterPattern": '{ $.action_intent_id = "ai-1" }',
                "startTime": int(SINCE.timestamp() * 1000),
            },
        )
        logs_stub.add_client_error(
            "filter_log_events",
            service_error_code="ResourceNotFoundException",
            http_status_code=400,
            expected_params={
                "logGroupName": "/aws/lambda/bel-dev-Reconciler",  # no group of its own: Lambda's default
                "filterPattern": '{ $.action_intent_id = "ai-1" }',
                "startTime": int(SINCE.timestamp() * 1000),
            },
        )  # that function never ran: no log group yet

        entries = CloudWatchFunctionLogs(clients.__getitem__, "bel-dev").lines_for("ai-1", since=SINCE)

        cfn_stub.assert_no_pending_responses()
        logs_stub.assert_no_pending_responses()
    assert [(e.what, e.detail["function"]) for e in entries] == [
        ("execution prepared", "bel-dev-PrepareExecutionFunction")
    ]
