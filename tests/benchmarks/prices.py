"""Public on-demand prices, us-east-1, in USD: the one place `make bench` turns counts into money.

The list prices the public AWS pricing pages give (they change: re-check them before budgeting with a
figure). Free tiers are ignored on purpose: the figure is the marginal cost of one more execution.
"""

# Step Functions Standard: $0.025 per 1,000 state transitions.
STEP_FUNCTIONS_PER_TRANSITION = 0.025 / 1_000
# Lambda: $0.20 per 1M requests.
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
# Lambda on arm64 (Graviton), first pricing tier: $0.0000133334 per GB-second, billed per 1 ms.
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
# DynamoDB on-demand (since the November 2024 price cut): $0.625 per 1M write request units.
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000
# DynamoDB on-demand: $0.125 per 1M read request units.
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000
# S3 Standard: $0.005 per 1,000 PUT, COPY, POST or LIST requests.
S3_PER_PUT = 0.005 / 1_000
# EventBridge custom events: $1.00 per 1M events published (each 64 KB chunk of an entry is one event).
EVENTBRIDGE_PER_EVENT = 1.00 / 1_000_000
# Secrets Manager: $0.05 per 10,000 API calls (the secret's monthly fee is per secret, not per call).
SECRETS_MANAGER_PER_CALL = 0.05 / 10_000
# SQS standard queue: $0.40 per 1M requests (each 64 KB chunk is one request).
SQS_PER_REQUEST = 0.40 / 1_000_000
# Step Functions API calls (StartExecution, DescribeExecution) carry no request charge of their own.
STEP_FUNCTIONS_PER_API_CALL = 0.0
