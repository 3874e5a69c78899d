"""The embedded local runtime: moto as a real HTTP server in this process, resources from template.yaml.

`sam local` needs Docker and moto's CloudFormation cannot hold this template faithfully
(docs/architecture.md §5), so
each resource of the translated template is created here through the ordinary AWS APIs, from the
template's own properties. Nothing in this package repeats a table shape, a policy or an environment.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import socket
import string
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import boto3
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

from local_runtime import dynamodb_isolation, eventbridge, moto_hooks, sdk_events, stepfunctions_timing
from local_runtime.lambdas import InProcessLambdaRouter, LocalFunction
from local_runtime.metering import HARNESS_USER_AGENT, RequestMeter
from local_runtime.streams import StreamMapping, StreamPoller
from local_runtime.template import (
    TEMPLATE_PATH,
    IntrinsicContext,
    ProjectTemplate,
    TemplateError,
    condition_values,
    creation_order,
    load_project_template,
    references,
    resolve_intrinsics,
)

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "bel-local"
# Resource types with nothing to emulate, and why (other unhandled types are "not emulated locally").
NOTHING_TO_CREATE = {
    "AWS::CloudFormation::WaitConditionHandle": "a CloudFormation ordering handle: nothing to create",
    "AWS::ApiGateway::Account": "an account-wide API Gateway setting: the local API server needs none",
}
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-runtime",
    "AWS_SECRET_ACCESS_KEY": "local-runtime",
    "AWS_SESSION_TOKEN": "local-runtime",
}


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class CreatedResource:
    logical_id: str
    resource_type: str
    physical_id: str
    arn: str | None = None


@dataclass
class LocalEmulator:
    """The moto server: started once, then any number of stacks are deployed into it."""

    region: str = DEFAULT_REGION
    port: int = 0
    endpoint_url: str = ""
    stacks: dict[str, LocalStack] = field(default_factory=dict)
    meter: RequestMeter | None = None
    # Waits between Step Functions retries are multiplied by this (tests: a small fraction; demo: 1).
    retry_wait_scale: float = 1.0
    _server: ThreadedMotoServer | None = None

    def start(self) -> Self:
        """Start moto on a free loopback port and make this process talk only to it."""
        self.port = self.port or free_loopback_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        # Step Functions' interpreter calls services at localhost:$MOTO_PORT (docs/architecture.md §5).
        os.environ["MOTO_PORT"] = str(self.port)
        os.environ.update(_FAKE_CREDENTIALS)
        os.environ.pop("AWS_PROFILE", None)
        os.environ["AWS_DEFAULT_REGION"] = self.region
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto logs every Fail state at ERROR; a recorded business failure is not an emulator error.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        # before any handler builds a client (docs/architecture.md §6.2 crash matrix)
        sdk_events.OBSERVER.install()
        stepfunctions_timing.install(self.retry_wait_scale)
        eventbridge.retry_wait_scale = self.retry_wait_scale
        InProcessLambdaRouter.install()
        eventbridge.install()
        dynamodb_isolation.install()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.meter = moto_hooks.wrap_server_app(self._server, RequestMeter)
        response = requests.post(
            f"{self.endpoint_url}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        )
        response.raise_for_status()
        return self

    def stop(self) -> None:
        """Stop every stack's pollers and the server; safe after a start that was interrupted half-way."""
        for stack in self.stacks.values():
            for poller in stack.stream_pollers.values():
                poller.stop()
            for function in stack.functions.values():
                InProcessLambdaRouter.unregister(function.function_name)
        if self._server is not None:
            server, self._server = self._server, None
            # Safe when interrupted while moto's thread was still binding (stop() would wait forever).
            moto_hooks.stop_server(server)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """A boto3 client for the emulator (never real AWS: fake credentials, loopback endpoint)."""
        if not self.endpoint_url:
            raise RuntimeError("the emulator is not started")
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=_FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=_FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=_FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"}, user_agent_extra=HARNESS_USER_AGENT
            ),
        )

    def deploy(
        self,
        template_path: Path = TEMPLATE_PATH,
        stack_name: str = DEFAULT_STACK_NAME,
        parameter_overrides: Mapping[str, Any] | None = None,
        definition_overrides: Mapping[str, Any] | None = None,
    ) -> LocalStack:
        """Create every emulated resource of a template under a stack name.

        ``definition_overrides`` replaces top-level fields of every state machine definition (a test stack
        with a short machine TimeoutSeconds, say); the template itself is never changed.
        """
        if stack_name in self.stacks:
            raise ValueError(f"stack {stack_name!r} is already deployed")
        stack = LocalStack(
            emulator=self,
            stack_name=stack_name,
            template_path=template_path,
            definition_overrides=dict(definition_overrides or {}),
        )
        try:
            stack.create(parameter_overrides or {})
        except BaseException:  # an interrupted or failed deploy leaves no poller running
            for poller in stack.stream_pollers.values():
                poller.stop()
            raise
        self.stacks[stack_name] = stack
        return stack


@dataclass
class LocalStack:
    """One deployed template: its resources' physical names, ARNs, functions and outputs."""

    emulator: LocalEmulator
    stack_name: str
    template_path: Path
    created: dict[str, CreatedResource] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    adjustments: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    definition_overrides: dict[str, Any] = field(default_factory=dict)
    stream_pollers: dict[str, StreamPoller] = field(default_factory=dict)
    schedules: eventbridge.Schedules = field(default_factory=eventbridge.Schedules)
    _template: ProjectTemplate | None = None
    _context: IntrinsicContext | None = None

    @property
    def template(self) -> ProjectTemplate:
        if self._template is None:
            raise RuntimeError(f"stack {self.stack_name} is not created yet")
        return self._template

    @property
    def _ctx(self) -> IntrinsicContext:
        if self._context is None:
            raise RuntimeError(f"stack {self.stack_name} is not created yet")
        return self._context

    @property
    def region(self) -> str:
        return self.emulator.region

    @property
    def endpoint_url(self) -> str:
        return self.emulator.endpoint_url

    def client(self, service: str) -> Any:
        return self.emulator.client(service)

    def physical_name(self, logical_id: str) -> str:
        return self.created[logical_id].physical_id

    def arn(self, logical_id: str) -> str:
        arn = self.created[logical_id].arn
        if arn is None:
            raise KeyError(f"{logical_id} has no ARN")
        return arn

    def function(self, logical_id: str) -> LocalFunction:
        return self.functions[logical_id]

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsic functions in a value of the translated template against local resources."""
        return resolve_intrinsics(value, self._ctx)

    def outputs(self) -> dict[str, str]:
        """The template's Outputs, resolved against the local resources.

        Outputs of resources the runtime does not create (the REST API: the local API server serves it
        instead, see local_runtime/api_server.py) are left out.
        """
        result: dict[str, str] = {}
        for name, output in self.template.transformed.get("Outputs", {}).items():
            if references(output["Value"]) & self.skipped.keys():
                continue
            value = resolve_intrinsics(output["Value"], self._ctx)
            result[name] = ",".join(value) if isinstance(value, list) else str(value)
        return result

    # ------------------------------------------------------------------ deploy
    def create(self, parameter_overrides: Mapping[str, Any]) -> list[CreatedResource]:
        """Create every emulated resource of the template, in dependency order."""
        self._template = load_project_template(self.template_path, parameter_overrides, self.region)
        self._context = IntrinsicContext(
            parameters=self.template.parameters,
            pseudo={
                "AWS::Region": self.region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::StackName": self.stack_name,
                "AWS::StackId": (
                    f"arn:aws:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{self.stack_name}/local"
                ),
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            },
        )
        conditions = condition_values(self.template, self._ctx)
        creators = self._creators()
        resources = self.template.resources
        for logical_id in creation_order(resources):
            resource = resources[logical_id]
            condition = resource.get("Condition")
            if condition and not conditions[condition]:
                self.skipped[logical_id] = f"condition {condition} is false"
                continue
            if resource["Type"] in NOTHING_TO_CREATE:
                self.skipped[logical_id] = NOTHING_TO_CREATE[resource["Type"]]
                continue
            creator = creators.get(resource["Type"])
            if creator is None:
                self.skipped[logical_id] = f"{resource['Type']} is not emulated locally"
                continue
            props = resolve_intrinsics(resource.get("Properties", {}), self._ctx)
            created = creator(logical_id, props)
            self.created[logical_id] = created
            self._ctx.refs[logical_id] = created.physical_id
        return list(self.created.values())

    def _name(self, logical_id: str, max_length: int = 64) -> str:
        return f"{self.stack_name}-{logical_id}"[:max_length]

    def _creators(self) -> dict[str, Callable[[str, dict[str, Any]], CreatedResource]]:
        return {
            "AWS::IAM::Role": self._create_role,
            "AWS::DynamoDB::Table": self._create_table,
            "AWS::S3::Bucket": self._create_bucket,
            "AWS::S3::BucketPolicy": self._create_bucket_policy,
            "AWS::Events::EventBus": self._create_event_bus,
            "AWS::SNS::Topic": self._create_topic,
            "AWS::SNS::Subscription": self._create_subscription,
            "AWS::Cognito::UserPool": self._create_user_pool,
            "AWS::Cognito::UserPoolClient": self._create_user_pool_client,
            "AWS::Lambda::LayerVersion": self._create_layer,
            "AWS::Lambda::Function": self._create_function,
            "AWS::Lambda::Version": self._create_version,
            "AWS::Lambda::Alias": self._create_alias,
            "AWS::CodeDeploy::Application": self._create_deployment_application,
            "AWS::CodeDeploy::DeploymentGroup": self._create_deployment_group,
            "AWS::Logs::LogGroup": self._create_log_group,
            "AWS::StepFunctions::StateMachine": self._create_state_machine,
            "AWS::Events::Rule": self._create_rule,
            "AWS::SQS::Queue": self._create_queue,
            "AWS::SQS::QueuePolicy": self._create_queue_policy,
            "AWS::Lambda::EventSourceMapping": self._create_event_source_mapping,
            "AWS::SecretsManager::Secret": self._create_secret,
            "AWS::CloudWatch::Alarm": self._create_alarm,
            "AWS::CloudWatch::Dashboard": self._create_dashboard,
        }

    def _remember(
        self, logical_id: str, resource_type: str, physical_id: str, arn: str | None, **attrs: str
    ) -> CreatedResource:
        attributes = dict(attrs)
        if arn:
            attributes.setdefault("Arn", arn)
        self._ctx.attributes[logical_id] = attributes
        return CreatedResource(logical_id, resource_type, physical_id, arn)

    def _create_role(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        iam = self.client("iam")
        name = props.get("RoleName") or self._name(logical_id)
        role = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )["Role"]
        for policy in props.get("Policies", []):
            # SAM policy templates omit Version; IAM accepts that, moto insists on one.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document)
            )
        return self._remember(logical_id, "AWS::IAM::Role", name, role["Arn"], RoleId=role["RoleId"])

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        ddb = self.client("dynamodb")
        name = props.get("TableName") or self._name(logical_id, 255)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "SSESpecification"):
            if key in props:
                kwargs[key] = props[key]
        if "SSESpecification" in kwargs:
            kwargs["SSESpecification"] = {"Enabled": bool(kwargs["SSESpecification"].get("SSEEnabled"))}
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        table = ddb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        pitr = props.get("PointInTimeRecoverySpecification", {})
        if pitr.get("PointInTimeRecoveryEnabled"):
            ddb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        stream = {"StreamArn": table["LatestStreamArn"]} if table.get("LatestStreamArn") else {}
        return self._remember(logical_id, "AWS::DynamoDB::Table", name, table["TableArn"], **stream)

    def _create_bucket(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        s3 = self.client("s3")
        name = props.get("BucketName") or self._name(logical_id, 63).lower()
        s3.create_bucket(Bucket=name)
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
            )
        if "BucketEncryption" in props:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        _encryption_rule(rule)
                        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
        if "LifecycleConfiguration" in props:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
                },
            )
        arn = f"arn:aws:s3:::{name}"
        return self._remember(logical_id, "AWS::S3::Bucket", name, arn, DomainName=f"{name}.s3.amazonaws.com")

    def _create_bucket_policy(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        document = dict(props["PolicyDocument"])
        statements = document.get("Statement", [])
        # moto evaluates bucket policies, and the emulator only speaks plain HTTP on loopback, so a
        # TLS-only statement would deny every local request. It is kept in the template (and tested
        # there); locally it is left out and reported.
        kept = [st for st in statements if "aws:SecureTransport" not in json.dumps(st.get("Condition", {}))]
        if len(kept) != len(statements):
            self.adjustments[logical_id] = "TLS-only statement omitted: the local endpoint is plain HTTP"
        if kept:
            document["Statement"] = kept
            self.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
        return self._remember(logical_id, "AWS::S3::BucketPolicy", props["Bucket"], None)

    def _create_event_bus(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        arn = self.client("events").create_event_bus(Name=props["Name"])["EventBusArn"]
        return self._remember(logical_id, "AWS::Events::EventBus", props["Name"], arn, Name=props["Name"])

    def _create_topic(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        name = props.get("TopicName") or self._name(logical_id, 256)
        attributes = {k: str(props[k]) for k in ("DisplayName", "KmsMasterKeyId") if k in props}
        arn = self.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return self._remember(logical_id, "AWS::SNS::Topic", arn, arn, TopicName=name, TopicArn=arn)

    def _create_subscription(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )["SubscriptionArn"]
        return self._remember(logical_id, "AWS::SNS::Subscription", arn, arn)

    def _create_user_pool(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        # EnabledMfas is CloudFormation's: the API sets it apart (SetUserPoolMfaConfig), as CFN does
        kwargs = {k: v for k, v in props.items() if k not in {"UserPoolName", "UserPoolTags", "EnabledMfas"}}
        kwargs["PoolName"] = props.get("UserPoolName") or self._name(logical_id, 128)
        cognito = self.client("cognito-idp")
        pool = cognito.create_user_pool(**kwargs)["UserPool"]
        if "SOFTWARE_TOKEN_MFA" in props.get("EnabledMfas", []):
            cognito.set_user_pool_mfa_config(
                UserPoolId=pool["Id"],
                SoftwareTokenMfaConfiguration={"Enabled": True},
                MfaConfiguration=props.get("MfaConfiguration", "OFF"),
            )
        provider_url = f"{self.endpoint_url}/{pool['Id']}"
        return self._remember(
            logical_id,
            "AWS::Cognito::UserPool",
            pool["Id"],
            pool["Arn"],
            ProviderName=provider_url.removeprefix("http://"),
            ProviderURL=provider_url,
            UserPoolId=pool["Id"],
        )

    def _create_user_pool_client(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        client = self.client("cognito-idp").create_user_pool_client(**props)["UserPoolClient"]
        return self._remember(
            logical_id, "AWS::Cognito::UserPoolClient", client["ClientId"], None, ClientId=client["ClientId"]
        )

    def _source_logical_id(self, s3_location: Mapping[str, Any] | None) -> str:
        """Map the placeholder S3 key the template loader put in back to the original logical id."""
        key = str((s3_location or {}).get("S3Key", ""))
        return key.rsplit("/", 1)[-1].split(".", 1)[0]

    def _create_layer(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        source = self._source_logical_id(props.get("Content"))
        if source not in self.template.artifacts.code_dirs:
            raise TemplateError(f"layer {logical_id} has no local ContentUri")
        version = self.client("lambda").publish_layer_version(
            LayerName=props["LayerName"],
            Content={"ZipFile": _placeholder_zip()},
            CompatibleRuntimes=props.get("CompatibleRuntimes", []),
        )
        return self._remember(
            logical_id, "AWS::Lambda::LayerVersion", version["LayerVersionArn"], version["LayerVersionArn"]
        )

    def _layer_dir(self, layer_arn: str) -> Path:
        for logical_id, created in self.created.items():
            if created.arn == layer_arn:
                source = self._source_logical_id(self.template.resources[logical_id]["Properties"]["Content"])
                return self.template.artifacts.code_dirs[source]
        raise TemplateError(f"function references unknown layer {layer_arn}")

    def _create_function(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        source = self._source_logical_id(props.get("Code"))
        code_dir = self.template.artifacts.code_dirs.get(source)
        if code_dir is None:
            raise TemplateError(f"function {logical_id} has no local CodeUri")
        name = props.get("FunctionName") or self._name(logical_id)
        template_env = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        layer_arns = [str(arn) for arn in props.get("Layers", [])]
        response = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=props["Role"],
            Handler=props["Handler"],
            Code={"ZipFile": _placeholder_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": template_env},
            Layers=layer_arns,
        )
        function = LocalFunction(
            logical_id=logical_id,
            function_name=name,
            function_arn=response["FunctionArn"],
            code_dir=code_dir,
            handler=props["Handler"],
            environment=self._lambda_environment(name, props, template_env),
            layer_dirs=[self._layer_dir(arn) for arn in layer_arns],
            timeout_seconds=float(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
        )
        self.functions[logical_id] = function
        InProcessLambdaRouter.register(function)
        return self._remember(logical_id, "AWS::Lambda::Function", name, response["FunctionArn"])

    def _create_version(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        """A published version of the function's current code (moto keeps it; the router runs it)."""
        version = self.client("lambda").publish_version(FunctionName=props["FunctionName"])
        # Ref of a version is its (qualified) ARN; Fn::GetAtt Version is the number the alias points at.
        return self._remember(
            logical_id,
            "AWS::Lambda::Version",
            version["FunctionArn"],
            version["FunctionArn"],
            Version=str(version["Version"]),
        )

    def _create_alias(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        """The live alias at the version just published: invoking it runs the same in-process code.

        A CodeDeployLambdaAliasUpdate policy only matters when an alias is updated; a local stack is
        created once, so traffic shifting never happens here (and RoutingConfig is not kept).
        """
        alias = self.client("lambda").create_alias(
            FunctionName=props["FunctionName"],
            Name=props["Name"],
            FunctionVersion=str(props["FunctionVersion"]),
        )
        # Ref of an alias is its ARN, which is what every invoker of the function is given.
        return self._remember(logical_id, "AWS::Lambda::Alias", alias["AliasArn"], alias["AliasArn"])

    def _create_deployment_application(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        """CodeDeploy's application for the canary of the status API (stored; nothing deploys locally)."""
        name = props.get("ApplicationName") or self._name(logical_id, 100)
        self.client("codedeploy").create_application(
            applicationName=name, computePlatform=props.get("ComputePlatform", "Lambda")
        )
        return self._remember(logical_id, "AWS::CodeDeploy::Application", name, None)

    def _create_deployment_group(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        """Stored as declared (configuration, alarms, rollback); the emulator never shifts traffic."""
        name = props.get("DeploymentGroupName") or self._name(logical_id, 100)
        kwargs: dict[str, Any] = {
            "applicationName": props["ApplicationName"],
            "deploymentGroupName": name,
            "serviceRoleArn": props["ServiceRoleArn"],
        }
        for key in (
            "DeploymentConfigName",
            "AlarmConfiguration",
            "AutoRollbackConfiguration",
            "DeploymentStyle",
        ):
            if key in props:
                kwargs[key[:1].lower() + key[1:]] = _lower_first_keys(props[key])
        self.client("codedeploy").create_deployment_group(**kwargs)
        return self._remember(logical_id, "AWS::CodeDeploy::DeploymentGroup", name, None)

    def publish_function_code(self, logical_id: str, code_dir: Path) -> str:
        """Deploy new code to one function as `sam deploy` does with AutoPublishAlias: publish a version and
        move the function's aliases to it, all at once. Returns the new version.

        Executions in flight invoke the alias, so their next step runs the new code: what a deploy in the
        middle of an execution does (ADR 0013). Deploying the template's own code dir again rolls back.
        """
        function = self.functions[logical_id]
        lam = self.client("lambda")
        lam.update_function_code(FunctionName=function.function_name, ZipFile=_placeholder_zip())
        version = str(lam.publish_version(FunctionName=function.function_name)["Version"])
        function.redeploy(code_dir)
        for alias_id, alias in self.template.resources_of_type("AWS::Lambda::Alias").items():
            if alias_id in self.created and alias["Properties"]["FunctionName"] == {"Ref": logical_id}:
                name = alias["Properties"]["Name"]
                lam.update_alias(FunctionName=function.function_name, Name=name, FunctionVersion=version)
        return version

    def function_for(self, name_or_arn: str) -> LocalFunction:
        """The local function a name or ARN designates, qualified (``...:function:name:live``) or not.

        Lambda resolves the qualifier (a missing alias is an error, as in AWS); the code is the same.
        """
        configuration = self.client("lambda").get_function(FunctionName=name_or_arn)["Configuration"]
        for function in self.functions.values():
            if function.function_name == configuration["FunctionName"]:
                return function
        raise TemplateError(f"{name_or_arn} names no local function")

    def _create_log_group(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        name = props.get("LogGroupName") or f"/local/{self._name(logical_id)}"
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        arn = f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}:*"
        return self._remember(logical_id, "AWS::Logs::LogGroup", name, arn)

    def _create_state_machine(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        source = self._source_logical_id({"S3Key": props.get("DefinitionS3Location", {}).get("Key", "")})
        definition_file = self.template.artifacts.definition_files.get(source)
        if definition_file is None:
            raise TemplateError(f"state machine {logical_id} has no local DefinitionUri")
        definition = definition_file.read_text(encoding="utf-8")
        for name, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace(f"${{{name}}}", str(value))
        if self.definition_overrides:
            definition = json.dumps({**json.loads(definition), **self.definition_overrides})
        name = props.get("StateMachineName") or self._name(logical_id, 80)
        kwargs: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": props["RoleArn"],
            "type": props.get("StateMachineType", "STANDARD"),
        }
        if "LoggingConfiguration" in props:
            kwargs["loggingConfiguration"] = _lower_first_keys(props["LoggingConfiguration"])
        if "TracingConfiguration" in props:
            kwargs["tracingConfiguration"] = _lower_first_keys(props["TracingConfiguration"])
        arn = self.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
        return self._remember(logical_id, "AWS::StepFunctions::StateMachine", arn, arn, Name=name)

    def _create_secret(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        """A secret with its value: SecretString as given, or generated from GenerateSecretString."""
        name = props.get("Name") or self._name(logical_id, 256)
        value = props.get("SecretString")
        if value is None:
            value = _generated_secret_string(props.get("GenerateSecretString", {}))
        kwargs: dict[str, Any] = {"Name": name, "SecretString": value}
        if "Description" in props:
            kwargs["Description"] = props["Description"]
        arn = self.client("secretsmanager").create_secret(**kwargs)["ARN"]
        # Ref of a secret is its ARN.
        return self._remember(logical_id, "AWS::SecretsManager::Secret", arn, arn, Id=arn)

    def _create_rule(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        events = self.client("events")
        name = props.get("Name") or self._name(logical_id)
        bus = props.get("EventBusName", "default")
        rule: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "ScheduleExpression" in props:
            rule["ScheduleExpression"] = props["ScheduleExpression"]
        else:
            rule["EventPattern"] = json.dumps(props["EventPattern"])
        arn = events.put_rule(**rule)["RuleArn"]
        kept = {"Id", "Arn", "RoleArn", "Input", "InputPath", "RetryPolicy", "DeadLetterConfig"}
        targets = [{k: v for k, v in target.items() if k in kept} for target in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        if "ScheduleExpression" in props:
            # moto never fires schedules: the runtime does (tests on demand, `exec-local up` on a timer).
            self.schedules.add(logical_id, str(props["ScheduleExpression"]), targets, arn)
        return self._remember(logical_id, "AWS::Events::Rule", name, arn)

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        sqs = self.client("sqs")
        name = props.get("QueueName") or self._name(logical_id, 80)
        attributes = {
            k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
            for k in ("MessageRetentionPeriod", "VisibilityTimeout", "SqsManagedSseEnabled")
            if k in props
        }
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return self._remember(logical_id, "AWS::SQS::Queue", url, arn, QueueName=name, QueueUrl=url)

    def _create_queue_policy(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        """Stored as declared (the emulator does not evaluate queue policies)."""
        sqs = self.client("sqs")
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        return self._remember(logical_id, "AWS::SQS::QueuePolicy", logical_id, None)

    def _create_event_source_mapping(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        """A DynamoDB stream mapping is a local poller (local_runtime/streams.py), not a moto mapping."""
        function = self.function_for(str(props["FunctionName"]))  # the live alias's function
        mapping = StreamMapping.from_properties(logical_id, props, function)
        poller = StreamPoller(mapping, self.client, self.region, self.emulator.retry_wait_scale).start()
        self.stream_pollers[logical_id] = poller
        return self._remember(logical_id, "AWS::Lambda::EventSourceMapping", logical_id, None)

    def wait_for_streams(self, timeout: float = 30.0) -> None:
        """Block until every stream poller has delivered everything written so far."""
        for logical_id, poller in self.stream_pollers.items():
            if not poller.wait_idle(timeout):
                raise TimeoutError(f"stream {logical_id} did not catch up in {timeout}s")

    def _create_alarm(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        """Stored as declared; the emulator never evaluates alarms (docs/architecture.md §5)."""
        name = props.get("AlarmName") or self._name(logical_id, 255)
        keys = (
            "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "Period",
            "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData",
            "AlarmActions", "OKActions", "InsufficientDataActions", "DatapointsToAlarm", "Unit",
        )  # fmt: skip
        kwargs = {k: props[k] for k in keys if k in props}
        for number in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if number in kwargs:
                kwargs[number] = int(kwargs[number])
        if "Threshold" in kwargs:
            kwargs["Threshold"] = float(kwargs["Threshold"])
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
        arn = f"arn:aws:cloudwatch:{self.region}:{ACCOUNT_ID}:alarm:{name}"
        return self._remember(logical_id, "AWS::CloudWatch::Alarm", name, arn)

    def _create_dashboard(self, logical_id: str, props: dict[str, Any]) -> CreatedResource:
        name = props.get("DashboardName") or self._name(logical_id, 255)
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
        return self._remember(logical_id, "AWS::CloudWatch::Dashboard", name, None)

    def _lambda_environment(
        self, name: str, props: Mapping[str, Any], template_env: Mapping[str, str]
    ) -> dict[str, str]:
        """What the Lambda runtime adds to the template's variables, pointed at the emulator."""
        return {
            **template_env,
            **_FAKE_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{props['Runtime']}",
            # No X-Ray daemon locally: tracing would only log "cannot send segment" noise.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }


def _lower_first_keys(value: Any) -> Any:
    """CloudFormation's PascalCase keys → Step Functions API camelCase keys (recursively)."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_first_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_first_keys(v) for v in value]
    return value


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's encryption rule shape → the S3 API's."""
    converted: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
    if "BucketKeyEnabled" in rule:
        converted["BucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
    return converted


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape → the S3 API's."""
    converted: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return converted


def _generated_secret_string(spec: Mapping[str, Any]) -> str:
    """What Secrets Manager's GenerateSecretString produces: a random password, optionally inside a JSON
    template under ``GenerateStringKey``."""
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += string.punctuation
    excluded = str(spec.get("ExcludeCharacters", ""))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    password = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template and key:
        return json.dumps({**json.loads(template), key: password})
    return password


def _placeholder_zip() -> bytes:
    """moto stores a code package; the real code runs in-process from the project tree."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code runs in-process from the project tree (local_runtime)")
    return buffer.getvalue()
