"""The IAM execution role SageMaker endpoints and training jobs assume.

The role trusts ``sagemaker.amazonaws.com`` and carries one inline policy, scoped to what the
project's containers do: read and write the project's S3 bucket, pull the serving/training
images from ECR, write logs and metrics to CloudWatch. Re-running updates both in place.
"""

import json
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.infrastructure.aws.sagemaker_deploy import DeploymentError

if TYPE_CHECKING:
    import boto3

POLICY_NAME = "llm-twin-sagemaker-access"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def access_policy(bucket: str) -> dict[str, Any]:
    """The role's permissions for ``bucket``.

    Args:
        bucket: The S3 bucket with the model folders, datasets and training outputs.
    """
    if not bucket or "/" in bucket or "*" in bucket:
        raise ImproperlyConfigured(f"SAGEMAKER_BUCKET must be a bucket name, got {bucket!r}")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ProjectBucket",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
            {
                "Sid": "PullImages",
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                "Resource": "*",
            },
            {
                "Sid": "LogsAndMetrics",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                    "cloudwatch:PutMetricData",
                ],
                "Resource": "*",
            },
        ],
    }


def ensure_execution_role(session: "boto3.Session", role_name: str, bucket: str) -> dict[str, Any]:
    """Create the role, or bring an existing one's trust and access policies up to date.

    Args:
        session: A ``boto3.Session``.
        role_name: The role's name.
        bucket: The bucket the role may use.

    Returns:
        ``{"role_name", "role_arn", "created"}``.

    Raises:
        DeploymentError: an IAM call failed (e.g. missing iam:CreateRole permission).
    """
    from botocore.exceptions import ClientError

    iam = session.client("iam")
    policy = json.dumps(access_policy(bucket))
    trust = json.dumps(TRUST_POLICY)
    try:
        try:
            role = iam.get_role(RoleName=role_name)["Role"]
            created = False
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            role = iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=trust,
                Description="LLM Twin: SageMaker endpoints and training jobs",
                Tags=[{"Key": "project", "Value": "llm-twin"}],
            )["Role"]
            created = True
        iam.put_role_policy(RoleName=role_name, PolicyName=POLICY_NAME, PolicyDocument=policy)
    except ClientError as error:
        info = error.response.get("Error", {})
        raise DeploymentError(
            f"IAM role {role_name}: {info.get('Code', 'error')}: {info.get('Message', '')}"
        ) from None
    logger.info("IAM role {} {}", role_name, "created" if created else "updated")
    return {"role_name": role_name, "role_arn": role["Arn"], "created": created}
