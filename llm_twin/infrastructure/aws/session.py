"""One place that builds the boto3 session every AWS integration uses."""

from typing import Any

from llm_twin.settings import Settings


def aws_session(settings: Settings) -> Any:
    """A ``boto3.Session`` in ``AWS_REGION`` with the ``AWS_ACCESS_KEY`` / ``AWS_SECRET_KEY``
    settings when both are set, else boto3's default credential chain (env, profile, role).

    Args:
        settings: Region and optional keys (the keys are never logged).
    """
    import boto3

    credentials = {}
    if settings.AWS_ACCESS_KEY and settings.AWS_SECRET_KEY:
        credentials = {
            "aws_access_key_id": settings.AWS_ACCESS_KEY.get_secret_value(),
            "aws_secret_access_key": settings.AWS_SECRET_KEY.get_secret_value(),
        }
    return boto3.Session(region_name=settings.AWS_REGION, **credentials)
