"""One place that builds the boto3 session every AWS integration uses."""

from typing import TYPE_CHECKING, Generic, TypeVar

from llm_twin.settings import Settings, get_settings

if TYPE_CHECKING:
    import boto3

SpecT = TypeVar("SpecT")


def aws_session(settings: Settings) -> "boto3.Session":
    """A ``boto3.Session`` in ``AWS_REGION`` with the ``AWS_ACCESS_KEY`` / ``AWS_SECRET_KEY``
    settings when both are set, else boto3's default credential chain (env, profile, role).

    Args:
        settings: Region and optional keys (the keys are never logged).
    """
    import boto3

    credentials = {}
    if settings.aws.access_key and settings.aws.secret_key:
        credentials = {
            "aws_access_key_id": settings.aws.access_key.get_secret_value(),
            "aws_secret_access_key": settings.aws.secret_key.get_secret_value(),
        }
    return boto3.Session(region_name=settings.aws.region, **credentials)


class SageMakerService(Generic[SpecT]):
    """Base of the SageMaker integrations: a spec, the settings, the boto3 session, its region
    and the S3 and SageMaker clients.

    Args:
        spec: What the service works on (a training job spec, an endpoint spec).
        settings: AWS region and credentials (default: the process settings).
        session: A ``boto3.Session`` (default: :func:`aws_session` of the settings).
    """

    def __init__(
        self, spec: SpecT, settings: Settings | None = None, session: "boto3.Session | None" = None
    ) -> None:
        self.spec = spec
        self.settings = settings or get_settings()
        self.session = session or aws_session(self.settings)
        self.region = self.session.region_name or self.settings.aws.region
        self.s3 = self.session.client("s3")
        self.sagemaker = self.session.client("sagemaker")
