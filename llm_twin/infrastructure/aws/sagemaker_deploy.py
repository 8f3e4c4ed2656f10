"""Serve a registry model version from a SageMaker real-time endpoint (TGI or LMI/vLLM).

``deploy`` uploads the version's merged ``model/`` folder to S3 uncompressed (the containers
load it from ``/opt/ml/model``; no multi-GB ``model.tar.gz`` to pack and unpack), then creates
the SageMaker model, the endpoint config and the endpoint, waits until it is in service and
registers its autoscaling (target tracking on invocations per instance). Every name derives
from the endpoint, the version and a digest of the serving settings, so a re-run with nothing
changed does nothing, and a new version or changed settings updates the live endpoint in place
(``UpdateEndpoint``: no downtime) and then removes the config and model it replaced.

The containers answer the OpenAI-style ``messages`` payload that
:class:`llm_twin.infrastructure.llm.sagemaker.SageMakerBackend` sends: TGI with
``MESSAGES_API_ENABLED=true``, LMI natively for chat models.
"""

import dataclasses
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from llm_twin.domain.exceptions import ImproperlyConfigured, LLMTwinError
from llm_twin.infrastructure.aws.session import SageMakerService
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from botocore.client import BaseClient

#: Pinned serving images in AWS's Deep Learning Containers account (763104351884 serves most
#: regions; opt-in regions use another account: set SAGEMAKER_INFERENCE_IMAGE there).
DEFAULT_IMAGES = {
    "tgi": (
        "763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.4.0-tgi3.0.1-gpu-py311-cu124-ubuntu22.04"
    ),
    "lmi": "763104351884.dkr.ecr.{region}.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124",
}
#: The single production variant every endpoint has.
VARIANT = "AllTraffic"
#: Where the containers find the model data SageMaker downloads.
MODEL_MOUNT = "/opt/ml/model"
TAGS = [{"Key": "project", "Value": "llm-twin"}]
#: Endpoint states in which no change can be made until SageMaker finishes.
BUSY_STATES = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
_GENERATION_TAG = re.compile(r"\{%-?\s*(?:end)?generation\s*-?%\}")
#: Application Auto Scaling's name of an endpoint variant's instance count.
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class ServableVersion(Protocol):
    """What the deployer needs of a model version (the registry's ``ModelVersion`` has it).

    Attributes:
        name: The registry model name.
        version: The version number.
        model_dir: The merged Hugging Face model folder served.
    """

    name: str
    version: int
    model_dir: Path


class DeploymentError(LLMTwinError):
    """A SageMaker call failed or the endpoint did not come up; the message says which."""


@dataclasses.dataclass(frozen=True)
class EndpointSpec:
    """What the endpoint serves with (all from settings by :meth:`from_settings`).

    Attributes:
        endpoint_name: Endpoint name (SAGEMAKER_ENDPOINT_NAME, default ``llm-twin``).
        role_arn: Execution role the container assumes (S3 read of ``bucket``, ECR pull, logs).
        bucket: S3 bucket for the model folder.
        container: ``tgi`` or ``lmi``.
        image_uri: Container image; ``{region}`` is filled in; empty: the container's default.
        instance_type: Instance type, e.g. ``ml.g5.xlarge``.
        num_gpus: GPUs per instance the model is sharded over.
        initial_instances: Instances at creation.
        min_instances: Autoscaling minimum.
        max_instances: Autoscaling maximum.
        target_invocations: Target invocations per instance per minute.
        startup_timeout_s: Container start-up health-check timeout (cold start: download + load).
        max_input_tokens: Longest prompt the container accepts.
        max_total_tokens: Prompt + answer tokens per request.
        prefix: S3 key prefix under ``bucket``.
    """

    endpoint_name: str
    role_arn: str
    bucket: str
    container: str = "tgi"
    image_uri: str = ""
    instance_type: str = "ml.g5.xlarge"
    num_gpus: int = 1
    initial_instances: int = 1
    min_instances: int = 1
    max_instances: int = 2
    target_invocations: float = 60.0
    startup_timeout_s: int = 900
    max_input_tokens: int = 1536
    max_total_tokens: int = 2048
    prefix: str = "llm-twin/endpoints"

    def __post_init__(self) -> None:
        if self.container not in DEFAULT_IMAGES:
            raise ImproperlyConfigured(
                f"SAGEMAKER_CONTAINER must be one of {sorted(DEFAULT_IMAGES)}, "
                f"got {self.container!r}"
            )
        if self.min_instances > self.max_instances:
            raise ImproperlyConfigured(
                f"SAGEMAKER_MIN_INSTANCES ({self.min_instances}) is above "
                f"SAGEMAKER_MAX_INSTANCES ({self.max_instances})"
            )
        if self.max_input_tokens >= self.max_total_tokens:
            raise ImproperlyConfigured(
                f"SAGEMAKER_MAX_INPUT_TOKENS ({self.max_input_tokens}) must be below "
                f"SAGEMAKER_MAX_TOTAL_TOKENS ({self.max_total_tokens})"
            )
        if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", self.endpoint_name):
            raise ImproperlyConfigured(
                f"endpoint name {self.endpoint_name!r} is invalid: letters, digits and "
                "hyphens, at most 63 characters"
            )

    @classmethod
    def from_settings(cls, settings: Settings, endpoint_name: str | None = None) -> "EndpointSpec":
        """The spec the SAGEMAKER_* settings describe.

        Args:
            settings: The settings to read.
            endpoint_name: Overrides SAGEMAKER_ENDPOINT_NAME.

        Raises:
            ImproperlyConfigured: SAGEMAKER_ROLE_ARN or SAGEMAKER_BUCKET is missing, or the
                values contradict each other.
        """
        missing = [
            name
            for name, value in (
                ("SAGEMAKER_ROLE_ARN", settings.aws.sagemaker_role_arn),
                ("SAGEMAKER_BUCKET", settings.aws.sagemaker_bucket),
            )
            if not (value or "").strip()
        ]
        if missing:
            raise ImproperlyConfigured(
                f"deploying an endpoint needs {' and '.join(missing)} (`poe create-sagemaker-role` "
                "creates the role and prints its ARN)"
            )
        return cls(
            endpoint_name=endpoint_name or settings.aws.sagemaker_endpoint_name or "llm-twin",
            role_arn=settings.aws.sagemaker_role_arn.strip(),  # type: ignore[union-attr]
            bucket=settings.aws.sagemaker_bucket.strip(),  # type: ignore[union-attr]
            container=settings.aws.sagemaker_container,
            image_uri=settings.aws.sagemaker_inference_image,
            instance_type=settings.aws.sagemaker_instance_type,
            num_gpus=settings.aws.sagemaker_num_gpus,
            initial_instances=settings.aws.sagemaker_initial_instances,
            min_instances=settings.aws.sagemaker_min_instances,
            max_instances=settings.aws.sagemaker_max_instances,
            target_invocations=settings.aws.sagemaker_target_invocations,
            startup_timeout_s=settings.aws.sagemaker_startup_timeout_s,
            max_input_tokens=settings.aws.sagemaker_max_input_tokens,
            max_total_tokens=settings.aws.sagemaker_max_total_tokens,
        )

    def image(self, region: str) -> str:
        """The container image URI in ``region``."""
        return (self.image_uri or DEFAULT_IMAGES[self.container]).format(region=region)

    def environment(self) -> dict[str, str]:
        """The container's environment: the model from ``/opt/ml/model``, sharding, lengths,
        and the OpenAI-style messages API the ``sagemaker`` LLM backend speaks."""
        if self.container == "tgi":
            return {
                "HF_MODEL_ID": MODEL_MOUNT,
                "SM_NUM_GPUS": str(self.num_gpus),
                "MAX_INPUT_TOKENS": str(self.max_input_tokens),
                "MAX_TOTAL_TOKENS": str(self.max_total_tokens),
                "MESSAGES_API_ENABLED": "true",
            }
        return {
            "HF_MODEL_ID": MODEL_MOUNT,
            "OPTION_ROLLING_BATCH": "vllm",
            "TENSOR_PARALLEL_DEGREE": str(self.num_gpus),
            "OPTION_MAX_MODEL_LEN": str(self.max_total_tokens),
            "OPTION_MAX_ROLLING_BATCH_SIZE": "32",
        }


def serving_chat_template(template: str) -> str:
    """The training chat template without its ``{% generation %}`` markers.

    The markers only tell transformers which tokens to train on; TGI's template engine
    (minijinja) rejects the unknown tag, so the served copy drops them. The rendered prompt is
    identical.
    """
    return _GENERATION_TAG.sub("", template)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:8]


def _name(endpoint: str, version: int, digest: str) -> str:
    suffix = f"-v{version}-{digest}"
    return endpoint[: 63 - len(suffix)].rstrip("-") + suffix


def _error_message(operation: str, error: Exception) -> str:
    """``<operation> failed: <code>: <message>`` from a botocore ``ClientError``."""
    info = getattr(error, "response", {}).get("Error", {})
    return f"{operation} failed: {info.get('Code', 'error')}: {info.get('Message', '')}"


class EndpointDeployer(SageMakerService[EndpointSpec]):
    """Creates, updates, describes and deletes one endpoint.

    Args:
        spec: The endpoint's serving settings.
        settings: AWS region and credentials.
        session: A ``boto3.Session`` (default: :func:`aws_session` of the settings).
    """

    @functools.cached_property
    def autoscaling(self) -> "BaseClient":
        """The Application Auto Scaling client (one per deployer)."""
        return self.session.client("application-autoscaling")

    # -- helpers ---------------------------------------------------------------------------
    def _call(self, client: "BaseClient", operation: str, **params: object) -> dict[str, Any]:
        """One AWS call; its ClientError becomes a DeploymentError naming the call."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(client, operation)(**params)
        except ClientError as error:
            raise DeploymentError(_error_message(operation, error)) from None
        except BotoCoreError as error:
            raise DeploymentError(f"{operation} failed: {error}") from None

    def _exists(self, operation: str, **params: object) -> dict[str, Any] | None:
        """The describe call's answer, or None when SageMaker says it does not exist."""
        from botocore.exceptions import ClientError

        try:
            return getattr(self.sagemaker, operation)(**params)
        except ClientError as error:
            info = error.response.get("Error", {})
            if info.get("Code") == "ValidationException" and "Could not find" in info.get(
                "Message", ""
            ):
                return None
            raise DeploymentError(_error_message(operation, error)) from None

    @property
    def resource_id(self) -> str:
        """The endpoint variant as Application Auto Scaling names it."""
        return f"endpoint/{self.spec.endpoint_name}/variant/{VARIANT}"

    @property
    def _scalable_target(self) -> dict[str, str]:
        """The parameters naming the variant in Application Auto Scaling calls."""
        return {
            "ServiceNamespace": "sagemaker",
            "ResourceId": self.resource_id,
            "ScalableDimension": SCALABLE_DIMENSION,
        }

    # -- model data ------------------------------------------------------------------------
    def upload_model(self, version: ServableVersion) -> str:
        """Upload ``version``'s ``model/`` folder (files already there with the same size are
        skipped: a version's files never change) and return its ``s3://.../`` prefix."""
        folder: Path = version.model_dir
        prefix = f"{self.spec.prefix}/{version.name}/v{version.version}/model"
        listing = self._call(
            self.s3, "list_objects_v2", Bucket=self.spec.bucket, Prefix=prefix + "/"
        )
        present = {item["Key"]: item["Size"] for item in listing.get("Contents", [])}
        uploaded = 0
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            if path.name == "chat_template.jinja" or path.name == "tokenizer_config.json":
                body = self._served_file(path)
                if present.get(key) != len(body):
                    self._call(self.s3, "put_object", Bucket=self.spec.bucket, Key=key, Body=body)
                    uploaded += 1
                continue
            if present.get(key) == path.stat().st_size:
                continue
            from boto3.exceptions import S3UploadFailedError

            try:
                self.s3.upload_file(str(path), self.spec.bucket, key)
            except S3UploadFailedError as error:
                raise DeploymentError(f"upload of {path.name} failed: {error}") from None
            uploaded += 1
        logger.info(
            "model v{}: {} file(s) uploaded to s3://{}/{}/",
            version.version,
            uploaded,
            self.spec.bucket,
            prefix,
        )
        return f"s3://{self.spec.bucket}/{prefix}/"

    @staticmethod
    def _served_file(path: Path) -> bytes:
        text = path.read_text()
        if path.name == "chat_template.jinja":
            return serving_chat_template(text).encode()
        config = json.loads(text)
        if isinstance(config.get("chat_template"), str):
            config["chat_template"] = serving_chat_template(config["chat_template"])
        return json.dumps(config, indent=2, ensure_ascii=False).encode()

    # -- deploy ----------------------------------------------------------------------------
    def model_request(self, version: ServableVersion, data_uri: str) -> dict[str, Any]:
        """The ``CreateModel`` parameters for ``version`` served from ``data_uri``."""
        image = self.spec.image(self.region)
        environment = self.spec.environment()
        digest = _digest(image, environment, self.spec.role_arn, data_uri)
        return {
            "ModelName": _name(self.spec.endpoint_name, version.version, digest),
            "PrimaryContainer": {
                "Image": image,
                "ModelDataSource": {
                    "S3DataSource": {
                        "S3Uri": data_uri,
                        "S3DataType": "S3Prefix",
                        "CompressionType": "None",
                    }
                },
                "Environment": environment,
            },
            "ExecutionRoleArn": self.spec.role_arn,
            "Tags": TAGS,
        }

    def endpoint_config_request(self, version: ServableVersion, model_name: str) -> dict[str, Any]:
        """The ``CreateEndpointConfig`` parameters serving ``model_name``."""
        variant = {
            "VariantName": VARIANT,
            "ModelName": model_name,
            "InstanceType": self.spec.instance_type,
            "InitialInstanceCount": self.spec.initial_instances,
            # Cold start: the model download and load must finish within these.
            "ContainerStartupHealthCheckTimeoutInSeconds": self.spec.startup_timeout_s,
            "ModelDataDownloadTimeoutInSeconds": self.spec.startup_timeout_s,
        }
        digest = _digest(variant)
        return {
            "EndpointConfigName": _name(self.spec.endpoint_name, version.version, digest),
            "ProductionVariants": [variant],
            "Tags": TAGS,
        }

    def _ensure_model_and_config(self, version: ServableVersion) -> tuple[str, str, str]:
        """Upload the model data and create the SageMaker model and endpoint config unless they
        exist; return (data URI, model name, endpoint config name)."""
        data_uri = self.upload_model(version)
        model = self.model_request(version, data_uri)
        model_name = model["ModelName"]
        if self._exists("describe_model", ModelName=model_name) is None:
            self._call(self.sagemaker, "create_model", **model)
            logger.info("SageMaker model {} created", model_name)
        config = self.endpoint_config_request(version, model_name)
        config_name = config["EndpointConfigName"]
        if self._exists("describe_endpoint_config", EndpointConfigName=config_name) is None:
            self._call(self.sagemaker, "create_endpoint_config", **config)
            logger.info("endpoint config {} created", config_name)
        return data_uri, model_name, config_name

    def _create_endpoint(self, config_name: str) -> None:
        self._call(
            self.sagemaker,
            "create_endpoint",
            EndpointName=self.spec.endpoint_name,
            EndpointConfigName=config_name,
            Tags=TAGS,
        )

    def _point_endpoint_at(
        self, config_name: str, poll_s: float, max_wait_s: float
    ) -> tuple[str, str | None]:
        """Create, recreate, update or keep the endpoint so it serves ``config_name``; return
        the action taken and the endpoint config an update replaced (if any).

        Raises:
            DeploymentError: the endpoint is busy with another change.
        """
        name = self.spec.endpoint_name
        current = self._exists("describe_endpoint", EndpointName=name)
        if current is None:
            self._create_endpoint(config_name)
            return "created", None
        if current["EndpointStatus"] in BUSY_STATES:
            raise DeploymentError(
                f"endpoint {name} is {current['EndpointStatus']}: run the command again once "
                "SageMaker has finished (`poe inference-endpoint-status`)"
            )
        if current["EndpointStatus"] == "Failed":
            # A failed endpoint cannot be updated: delete it and create it again.
            self._remove_autoscaling()
            self._call(self.sagemaker, "delete_endpoint", EndpointName=name)
            self._wait("endpoint_deleted", poll_s, max_wait_s)
            self._create_endpoint(config_name)
            return "recreated", None
        if current["EndpointConfigName"] == config_name:
            return "unchanged", None
        # Application Auto Scaling must let go of the variant while it is replaced.
        self._remove_autoscaling()
        self._call(
            self.sagemaker, "update_endpoint", EndpointName=name, EndpointConfigName=config_name
        )
        return "updated", current["EndpointConfigName"]

    def deploy(
        self,
        version: ServableVersion,
        wait: bool = True,
        poll_s: float = 30.0,
        max_wait_s: float = 3600.0,
    ) -> dict[str, Any]:
        """Serve ``version`` from the endpoint: create it, update it, or leave it as it is.

        Args:
            version: A registry :class:`~llm_twin.model.registry.ModelVersion`.
            wait: Wait until the endpoint is in service, then register autoscaling and remove
                the config and model an update replaced. Without waiting, run ``deploy``
                again later to finish those steps (it changes nothing else then).
            poll_s: Seconds between status checks while waiting.
            max_wait_s: Longest wait.

        Returns:
            A summary: endpoint, action (created/updated/recreated/unchanged), status, model,
            endpoint config, data URI, autoscaling.

        Raises:
            DeploymentError: an AWS call failed, the endpoint is busy, or it failed to start
                (the message carries SageMaker's failure reason).
        """
        data_uri, model_name, config_name = self._ensure_model_and_config(version)
        action, replaced = self._point_endpoint_at(config_name, poll_s, max_wait_s)
        name = self.spec.endpoint_name
        logger.info("endpoint {}: {} (config {})", name, action, config_name)
        summary: dict[str, Any] = {
            "endpoint": name,
            "action": action,
            "version": version.version,
            "model": model_name,
            "endpoint_config": config_name,
            "data_uri": data_uri,
            "container": self.spec.container,
            "instance_type": self.spec.instance_type,
            "status": None,
            "autoscaling": None,
        }
        if not wait:
            summary["status"] = self.status()["status"]
            return summary
        self._wait("endpoint_in_service", poll_s, max_wait_s)
        summary["status"] = "InService"
        summary["autoscaling"] = self.configure_autoscaling()
        if replaced and replaced != config_name:
            self._delete_config_and_models(replaced, keep_model=model_name)
        return summary

    def _wait(self, waiter_name: str, poll_s: float, max_wait_s: float) -> None:
        from botocore.exceptions import WaiterError

        name = self.spec.endpoint_name
        attempts = max(1, int(max_wait_s // max(poll_s, 1e-3)))
        try:
            self.sagemaker.get_waiter(waiter_name).wait(
                EndpointName=name, WaiterConfig={"Delay": poll_s, "MaxAttempts": attempts}
            )
        except WaiterError:
            reason = ""
            if waiter_name == "endpoint_in_service":
                described = self._exists("describe_endpoint", EndpointName=name) or {}
                reason = (
                    f" (status {described.get('EndpointStatus')}: "
                    f"{described.get('FailureReason') or 'no failure reason given'})"
                )
            raise DeploymentError(
                f"endpoint {name} did not reach {waiter_name.removeprefix('endpoint_')} within "
                f"{max_wait_s:.0f} s{reason}; see the container logs in CloudWatch "
                f"(/aws/sagemaker/Endpoints/{name})"
            ) from None

    # -- autoscaling -----------------------------------------------------------------------
    def configure_autoscaling(self) -> dict[str, Any]:
        """Register the variant with Application Auto Scaling (min/max instances) and put a
        target-tracking policy on invocations per instance (idempotent: both calls replace
        what is there)."""
        self._call(
            self.autoscaling,
            "register_scalable_target",
            **self._scalable_target,
            MinCapacity=self.spec.min_instances,
            MaxCapacity=self.spec.max_instances,
        )
        policy_name = f"{self.spec.endpoint_name}-invocations-per-instance"
        self._call(
            self.autoscaling,
            "put_scaling_policy",
            PolicyName=policy_name,
            **self._scalable_target,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": self.spec.target_invocations,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                # Scale out fast; scale in slowly (a new GPU instance takes minutes to start).
                "ScaleOutCooldown": 60,
                "ScaleInCooldown": 600,
            },
        )
        return {
            "min": self.spec.min_instances,
            "max": self.spec.max_instances,
            "target_invocations_per_instance": self.spec.target_invocations,
            "policy": policy_name,
        }

    def _scalable_targets(self) -> list[dict[str, Any]]:
        """The variant's registration with Application Auto Scaling (empty when none)."""
        return self._call(
            self.autoscaling,
            "describe_scalable_targets",
            ServiceNamespace="sagemaker",
            ResourceIds=[self.resource_id],
            ScalableDimension=SCALABLE_DIMENSION,
        ).get("ScalableTargets", [])

    def _remove_autoscaling(self) -> bool:
        targets = self._scalable_targets()
        if not targets:
            return False
        # Deregistering the target also deletes its scaling policies.
        self._call(
            self.autoscaling,
            "deregister_scalable_target",
            **self._scalable_target,
        )
        return True

    # -- delete / status -------------------------------------------------------------------
    def _delete_config_and_models(self, config_name: str, keep_model: str | None = None) -> list:
        deleted = []
        described = self._exists("describe_endpoint_config", EndpointConfigName=config_name)
        if described is None:
            return deleted
        self._call(self.sagemaker, "delete_endpoint_config", EndpointConfigName=config_name)
        deleted.append(config_name)
        for variant in described.get("ProductionVariants", []):
            model_name = variant.get("ModelName")
            if (
                model_name
                and model_name != keep_model
                and self._exists("describe_model", ModelName=model_name) is not None
            ):
                self._call(self.sagemaker, "delete_model", ModelName=model_name)
                deleted.append(model_name)
        return deleted

    def delete(self, wait: bool = True, poll_s: float = 15.0, max_wait_s: float = 1800.0) -> dict:
        """Delete the endpoint, its autoscaling, its endpoint config and model (the uploaded
        model files stay in S3 for the next deploy). Deleting a missing endpoint does nothing.
        """
        name = self.spec.endpoint_name
        current = self._exists("describe_endpoint", EndpointName=name)
        if current is None:
            logger.info("endpoint {} does not exist: nothing to delete", name)
            return {"endpoint": name, "deleted": []}
        autoscaling = self._remove_autoscaling()
        self._call(self.sagemaker, "delete_endpoint", EndpointName=name)
        deleted = [name]
        if wait:
            self._wait("endpoint_deleted", poll_s, max_wait_s)
        deleted += self._delete_config_and_models(current["EndpointConfigName"])
        logger.info("deleted {}", ", ".join(deleted))
        return {"endpoint": name, "deleted": deleted, "autoscaling_removed": autoscaling}

    def status(self) -> dict[str, Any]:
        """The endpoint's status, config, failure reason, instance counts and autoscaling."""
        name = self.spec.endpoint_name
        current = self._exists("describe_endpoint", EndpointName=name)
        if current is None:
            return {"endpoint": name, "status": "absent"}
        variants = current.get("ProductionVariants") or [{}]
        targets = self._scalable_targets()
        return {
            "endpoint": name,
            "status": current.get("EndpointStatus"),
            "endpoint_config": current.get("EndpointConfigName"),
            "failure_reason": current.get("FailureReason"),
            "instances": variants[0].get("CurrentInstanceCount"),
            "autoscaling": (
                {"min": targets[0]["MinCapacity"], "max": targets[0]["MaxCapacity"]}
                if targets
                else None
            ),
        }
