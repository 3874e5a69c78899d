"""Alarms, their topic and the dashboard in template.yaml (docs/architecture.md §4.10): explicit, complete,
wired."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local_runtime.template import load_raw_template

RESOURCES: dict[str, Any] = load_raw_template()["Resources"]

# The business metrics' namespace: one per stack, so two stacks in one account and region stay apart.
BUSINESS_NAMESPACE = {"Fn::Sub": "BoundedExecution/${AWS::StackName}"}
Expectation = tuple[str | dict[str, str], str, str, str | None, str, int]


def _machine(metric: str, statistic: str, threshold: int) -> Expectation:
    return ("AWS/States", metric, "StateMachineArn", "ExecutionStateMachine", statistic, threshold)


def _function(function: str, metric: str = "Errors") -> Expectation:
    return ("AWS/Lambda", metric, "FunctionName", function, "Sum", 1)


def _queue(queue: str) -> Expectation:
    return ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, "Maximum", 1)


# alarm -> (namespace, metric, dimension name, dimension target, statistic, threshold)
EXPECTED: dict[str, Expectation] = {
    "ExecutionsFailedAlarm": _machine("ExecutionsFailed", "Sum", 5),
    "ExecutionTimeAlarm": _machine("ExecutionTime", "Average", 300_000),
    "ExecutionsThrottledAlarm": _machine("ExecutionThrottled", "Sum", 10),
    "ExecutionsTimedOutAlarm": _machine("ExecutionsTimedOut", "Sum", 1),
    "ExecutionRecorderErrorsAlarm": _function("ExecutionRecorderFunction"),
    "ExecutionFailureRecorderErrorsAlarm": _function("ExecutionFailureRecorderFunction"),
    "InternalAdapterErrorsAlarm": _function("InternalAdapterFunction"),
    "CrmAdapterErrorsAlarm": _function("CrmAdapterFunction"),
    "StatusApiThrottlesAlarm": _function("ExecutionStatusApiFunction", "Throttles"),
    "StatusApi5xxAlarm": ("AWS/ApiGateway", "5XXError", "ApiName", None, "Sum", 1),
    # The canary's version-scoped rollback trigger (ADR 0013), per minute.
    "StatusApiNewVersionErrorsAlarm": _function("ExecutionStatusApiFunction"),
    # Nothing is lost: aborted executions, dead letters, outbox lag, the sweeper finding work, new functions.
    "ExecutionsAbortedAlarm": _machine("ExecutionsAborted", "Sum", 1),
    "ApprovalDeadLettersAlarm": _queue("ApprovalDeadLetterQueue"),
    "PublisherDeadLettersAlarm": _queue("PublisherDeadLetterQueue"),
    "OutboxLagAlarm": (
        "AWS/Lambda",
        "IteratorAge",
        "FunctionName",
        "OutcomePublisherFunction",
        "Maximum",
        300_000,
    ),
    "SweeperFoundWorkAlarm": (BUSINESS_NAMESPACE, "SweeperFinalized", "service", "reconciler", "Sum", 1),
    "SweeperErrorsAlarm": (BUSINESS_NAMESPACE, "SweeperErrors", "service", "reconciler", "Sum", 1),
    "OutcomePublisherErrorsAlarm": _function("OutcomePublisherFunction"),
    "ReconcilerErrorsAlarm": _function("ReconcilerFunction"),
}


CANARY_ALARMS = {"StatusApiNewVersionErrorsAlarm"}


def test_exactly_the_expected_alarms_exist() -> None:
    alarms = {lid for lid, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == set(EXPECTED)


@pytest.mark.parametrize("logical_id", sorted(EXPECTED))
def test_alarm_is_explicit_and_notifies_the_topic(logical_id: str) -> None:
    namespace, metric, dimension, target, statistic, threshold = EXPECTED[logical_id]
    props = RESOURCES[logical_id]["Properties"]

    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (namespace, metric, statistic)
    assert props["Threshold"] == threshold
    # A canary lasts 5 minutes: its rollback trigger must fire within it (ADR 0013).
    assert props["Period"] == (60 if logical_id in CANARY_ALARMS else 300)
    assert props["EvaluationPeriods"] == 1
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert props["OKActions"] == [{"Ref": "AlarmTopic"}]
    first = props["Dimensions"][0]
    assert first["Name"] == dimension
    if target is not None and target in RESOURCES:
        by_name = (
            {"Fn::GetAtt": [target, "QueueName"]} if RESOURCES[target]["Type"] == "AWS::SQS::Queue" else None
        )
        assert first["Value"] in ({"Ref": target}, by_name)
    elif target is not None:  # a business metric, by its service dimension
        assert first["Value"] == target
    else:  # the API: by its name and stage
        assert {d["Name"] for d in props["Dimensions"]} == {"ApiName", "Stage"}
        assert RESOURCES["StatusApi"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-status-api"}


def test_alarm_topic_and_optional_email() -> None:
    assert RESOURCES["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
    assert subscription["Properties"]["Protocol"] == "email"


def test_dashboard_is_valid_json_with_the_required_widgets() -> None:
    body_template, variables = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(variables) == {"StateMachineArn", "ApiName", "ApprovalDeadLetters", "PublisherDeadLetters"}
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", body_template))
    titles = {w["properties"]["title"] for w in body["widgets"]}
    assert titles == {
        "Executions",
        "State machine",
        "Lambda errors",
        "Lambda duration (p95)",
        "Status API",
        "Nothing lost: reconciler and outbox",
        "Dead letters",
    }
    text = json.dumps(body)
    for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsCancelled",
                   "ExecutionTime", "Duration", "Latency", "4XXError", "5XXError", "ExecutionsAborted",
                   "ExecutionsTimedOut", "SweeperFinalized", "IteratorAge",
                   "ApproximateNumberOfMessagesVisible"):  # fmt: skip
        assert metric in text, metric


def test_business_metrics_alarms_and_dashboard_use_the_stacks_own_namespace() -> None:
    """The functions emit to, the alarms watch and the dashboard draws the same per-stack namespace: with
    one shared namespace, dev's sweeper alarm would fire for staging's work in the same account."""
    variables = load_raw_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == BUSINESS_NAMESPACE
    custom = {
        lid: r["Properties"]["Namespace"]
        for lid, r in RESOURCES.items()
        if r["Type"] == "AWS::CloudWatch::Alarm" and not str(r["Properties"]["Namespace"]).startswith("AWS/")
    }
    assert set(custom) == {"SweeperFoundWorkAlarm", "SweeperErrorsAlarm"}
    assert all(namespace == BUSINESS_NAMESPACE for namespace in custom.values()), custom
    body_template = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    drawn = set(re.findall(r'\["([^"]+)", "[A-Za-z]+", "service"', body_template))
    assert drawn == {BUSINESS_NAMESPACE["Fn::Sub"]}
    # SEARCH needs the name quoted: it holds '/' and the stack name's '-' (CloudWatch search syntax).
    assert '{\\"' + BUSINESS_NAMESPACE["Fn::Sub"] + '\\",service,error_class}' in body_template
    assert "'{BoundedExecution," not in body_template


def test_tracing_and_state_machine_logging() -> None:
    globals_ = load_raw_template()["Globals"]["Function"]
    assert globals_["Tracing"] == "Active"
    machine = RESOURCES["ExecutionStateMachine"]["Properties"]
    assert machine["Tracing"] == {"Enabled": True}
    assert machine["Logging"]["IncludeExecutionData"] is False  # intents' parameters stay out of logs
    log_group = RESOURCES["ExecutionStateMachineLogGroup"]["Properties"]
    assert "RetentionInDays" in log_group
