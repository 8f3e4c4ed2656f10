"""SageMaker endpoint deployment: against moto (S3, IAM, SageMaker, Application Auto Scaling)
for the whole create / re-run / status / delete cycle, and with botocore's Stubber where the
exact parameters matter or moto lacks the call (UpdateEndpoint, a failing endpoint)."""

import datetime as dt
import json
from pathlib import Path

import pytest

from llm_twin.domain.exceptions import ImproperlyConfigured, InvalidInput
from tests.model.test_registry import outcome_in

REGION = "eu-central-1"
BUCKET = "twin-models"
ROLE = "arn:aws:iam::123456789012:role/llm-twin-sagemaker"
TRAINING_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] }}{% endgeneration %}"
    "{% else %}{{ message['content'] }}{% endif %}{% endfor %}"
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        session = boto3.Session(region_name=REGION)
        session.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield session


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A registry with versions 1 and 2 (2 in production); each model folder has a training
    chat template with {% generation %} markers, as the trainer saves it."""
    from llm_twin.model.finetuning.config import parse_config
    from llm_twin.model.registry import ModelRegistry, registry_root
    from llm_twin.settings import Settings

    data = tmp_path / "data"
    registry = ModelRegistry(registry_root(Settings(_env_file=None, DATA_DIR=data)), zenml=False)
    for index in (1, 2):
        outcome = outcome_in(data, f"fp{index}", 1.0)
        (outcome.model_dir / "chat_template.jinja").write_text(TRAINING_TEMPLATE)
        (outcome.model_dir / "tokenizer_config.json").write_text(
            json.dumps({"chat_template": TRAINING_TEMPLATE, "model_max_length": 2048})
        )
        (outcome.model_dir / "model.safetensors").write_bytes(b"\0" * (1000 + index))
        registry.register(outcome, parse_config({"tracking": "none"}))
    registry.promote(2, "production")
    return data


def settings_for(data_dir: Path, **overrides):
    from llm_twin.settings import Settings

    values = {
        "DATA_DIR": data_dir,
        "AWS_REGION": REGION,
        "SAGEMAKER_ROLE_ARN": ROLE,
        "SAGEMAKER_BUCKET": BUCKET,
        "SAGEMAKER_ENDPOINT_NAME": "twin-endpoint",
    }
    return Settings(_env_file=None, **(values | overrides))


def test_spec_reports_missing_and_contradicting_settings(data_dir: Path) -> None:
    from llm_twin.infrastructure.aws.sagemaker_deploy import EndpointSpec

    with pytest.raises(ImproperlyConfigured, match="SAGEMAKER_ROLE_ARN and SAGEMAKER_BUCKET"):
        EndpointSpec.from_settings(
            settings_for(data_dir, SAGEMAKER_ROLE_ARN=None, SAGEMAKER_BUCKET=None)
        )
    with pytest.raises(ImproperlyConfigured, match="SAGEMAKER_MIN_INSTANCES"):
        EndpointSpec.from_settings(
            settings_for(data_dir, SAGEMAKER_MIN_INSTANCES=3, SAGEMAKER_MAX_INSTANCES=2)
        )
    with pytest.raises(ImproperlyConfigured, match="endpoint name"):
        EndpointSpec.from_settings(settings_for(data_dir), endpoint_name="twin_endpoint")
    spec = EndpointSpec.from_settings(settings_for(data_dir, SAGEMAKER_CONTAINER="lmi"))
    assert spec.image("us-east-1").startswith("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl")
    assert spec.environment()["OPTION_ROLLING_BATCH"] == "vllm"


def test_resolve_version_by_number_or_production(data_dir: Path) -> None:
    from llm_twin.model.serving import resolve_version

    settings = settings_for(data_dir)
    assert resolve_version(settings, "production").version == 2
    assert resolve_version(settings, "1").version == 1
    with pytest.raises(InvalidInput, match="no version 7"):
        resolve_version(settings, "7")
    with pytest.raises(InvalidInput, match="number or 'production'"):
        resolve_version(settings, "latest")
    with pytest.raises(InvalidInput, match="no production version"):
        resolve_version(settings_for(data_dir.parent / "empty"), "production")


def test_serving_template_drops_only_the_generation_markers() -> None:
    from llm_twin.domain.prompts import TRAINING_CHAT_TEMPLATE
    from llm_twin.infrastructure.aws.sagemaker_deploy import serving_chat_template

    served = serving_chat_template(TRAINING_CHAT_TEMPLATE)
    assert "generation %}" not in served
    assert "add_generation_prompt" in served
    assert served.replace(" ", "") != TRAINING_CHAT_TEMPLATE.replace(" ", "")


def test_execution_role_is_created_then_updated(aws) -> None:
    from llm_twin.infrastructure.aws.iam import POLICY_NAME, ensure_execution_role

    first = ensure_execution_role(aws, "llm-twin-sagemaker", BUCKET)
    again = ensure_execution_role(aws, "llm-twin-sagemaker", "other-bucket")
    assert first["created"] is True and again["created"] is False
    assert first["role_arn"] == again["role_arn"]
    assert first["role_arn"].endswith(":role/llm-twin-sagemaker")
    iam = aws.client("iam")
    role = iam.get_role(RoleName="llm-twin-sagemaker")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    policy = iam.get_role_policy(RoleName="llm-twin-sagemaker", PolicyName=POLICY_NAME)
    document = policy["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert "arn:aws:s3:::other-bucket/*" in document["Statement"][0]["Resource"]
    with pytest.raises(ImproperlyConfigured, match="bucket name"):
        ensure_execution_role(aws, "llm-twin-sagemaker", "bucket/with/prefix")


def test_deploy_rerun_status_and_delete_against_moto(aws, data_dir: Path) -> None:
    from llm_twin.infrastructure.aws.sagemaker_deploy import (
        EndpointDeployer,
        EndpointSpec,
    )
    from llm_twin.model.serving import resolve_version

    settings = settings_for(data_dir, SAGEMAKER_INSTANCE_TYPE="ml.g4dn.xlarge")
    spec = EndpointSpec.from_settings(settings)
    deployer = EndpointDeployer(spec, settings, session=aws)
    version = resolve_version(settings, "production")
    summary = deployer.deploy(version, poll_s=0.01, max_wait_s=1)
    assert summary["action"] == "created" and summary["status"] == "InService"
    assert summary["data_uri"] == f"s3://{BUCKET}/llm-twin/endpoints/llm-twin/v2/model/"

    s3 = aws.client("s3")
    keys = {
        item["Key"].rsplit("/", 1)[1]: item["Key"]
        for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    }
    assert {"config.json", "model.safetensors", "chat_template.jinja"} <= set(keys)
    template = s3.get_object(Bucket=BUCKET, Key=keys["chat_template.jinja"])["Body"].read()
    assert b"generation %}" not in template and b"message['content']" in template
    tokenizer = json.loads(
        s3.get_object(Bucket=BUCKET, Key=keys["tokenizer_config.json"])["Body"].read()
    )
    assert "generation %}" not in tokenizer["chat_template"]
    assert tokenizer["model_max_length"] == 2048

    sagemaker = aws.client("sagemaker")
    model = sagemaker.describe_model(ModelName=summary["model"])
    container = model["PrimaryContainer"]
    assert container["Image"].startswith(f"763104351884.dkr.ecr.{REGION}.amazonaws.com/")
    assert "tgi" in container["Image"]
    assert container["Environment"]["MESSAGES_API_ENABLED"] == "true"
    assert container["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert container["ModelDataSource"]["S3DataSource"]["S3Uri"] == summary["data_uri"]
    assert model["ExecutionRoleArn"] == ROLE
    config = sagemaker.describe_endpoint_config(EndpointConfigName=summary["endpoint_config"])
    variant = config["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g4dn.xlarge"
    assert variant["InitialInstanceCount"] == 1
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 900
    endpoint = sagemaker.describe_endpoint(EndpointName="twin-endpoint")
    assert endpoint["EndpointConfigName"] == summary["endpoint_config"]

    scaling = aws.client("application-autoscaling")
    resource = "endpoint/twin-endpoint/variant/AllTraffic"
    target = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in target] == [
        (resource, 1, 2)
    ]
    policy = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    tracking = policy[0]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerVariantInvocationsPerInstance"
    )
    assert tracking["TargetValue"] == 60.0

    # Re-running with nothing changed creates nothing and uploads nothing.
    before = {
        item["Key"]: item["LastModified"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    }
    again = deployer.deploy(version, poll_s=0.01, max_wait_s=1)
    assert again["action"] == "unchanged"
    assert again["model"] == summary["model"]
    after = {
        item["Key"]: item["LastModified"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    }
    assert after == before
    assert len(sagemaker.list_models()["Models"]) == 1
    assert len(sagemaker.list_endpoint_configs()["EndpointConfigs"]) == 1

    status = deployer.status()
    assert status["status"] == "InService"
    assert status["autoscaling"] == {"min": 1, "max": 2}

    deleted = deployer.delete(poll_s=0.01, max_wait_s=1)
    assert deleted["deleted"] == ["twin-endpoint", summary["endpoint_config"], summary["model"]]
    assert deployer.status() == {"endpoint": "twin-endpoint", "status": "absent"}
    assert sagemaker.list_models()["Models"] == []
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert deployer.delete()["deleted"] == []


def _not_found(stubber, operation: str, what: str) -> None:
    stubber.add_client_error(
        operation,
        service_error_code="ValidationException",
        service_message=f"Could not find {what}",
        http_status_code=400,
    )


def test_update_of_a_live_endpoint_makes_exactly_these_calls(aws, data_dir: Path) -> None:
    """A new version on a live endpoint: new model and config, autoscaling released, the endpoint
    updated in place, autoscaling registered again, the replaced config and model removed."""
    from botocore.stub import ANY, Stubber

    from llm_twin.infrastructure.aws.sagemaker_deploy import (
        EndpointDeployer,
        EndpointSpec,
    )
    from llm_twin.model.serving import resolve_version

    settings = settings_for(data_dir)
    deployer = EndpointDeployer(EndpointSpec.from_settings(settings), settings, session=aws)
    version = resolve_version(settings, "production")
    data_uri = f"s3://{BUCKET}/llm-twin/endpoints/llm-twin/v2/model/"
    model = deployer.model_request(version, data_uri)
    config = deployer.endpoint_config_request(version, model["ModelName"])
    assert model["ModelName"].startswith("twin-endpoint-v2-")
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": model["ModelName"],
            "InstanceType": "ml.g5.xlarge",
            "InitialInstanceCount": 1,
            "ContainerStartupHealthCheckTimeoutInSeconds": 900,
            "ModelDataDownloadTimeoutInSeconds": 900,
        }
    ]
    resource = "endpoint/twin-endpoint/variant/AllTraffic"
    dimension = "sagemaker:variant:DesiredInstanceCount"
    now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    live = {
        "EndpointName": "twin-endpoint",
        "EndpointArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint/twin-endpoint",
        "EndpointConfigName": "twin-endpoint-v1-0ld0ld00",
        "EndpointStatus": "InService",
        "CreationTime": now,
        "LastModifiedTime": now,
    }

    sagemaker = Stubber(deployer.sagemaker)
    scaling = Stubber(deployer.autoscaling)
    _not_found(sagemaker, "describe_model", "model")
    sagemaker.add_response(
        "create_model", {"ModelArn": "arn:aws:sagemaker:eu-central-1:123456789012:model/new"}, model
    )
    _not_found(sagemaker, "describe_endpoint_config", "endpoint config")
    sagemaker.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint-config/new"},
        config,
    )
    sagemaker.add_response("describe_endpoint", live, {"EndpointName": "twin-endpoint"})
    scaling.add_response(
        "describe_scalable_targets",
        {
            "ScalableTargets": [
                {
                    "ServiceNamespace": "sagemaker",
                    "ResourceId": resource,
                    "ScalableDimension": dimension,
                    "MinCapacity": 1,
                    "MaxCapacity": 2,
                    "RoleARN": "arn:aws:iam::123456789012:role/autoscaling",
                    "CreationTime": now,
                }
            ]
        },
        {
            "ServiceNamespace": "sagemaker",
            "ResourceIds": [resource],
            "ScalableDimension": dimension,
        },
    )
    scaling.add_response(
        "deregister_scalable_target",
        {},
        {"ServiceNamespace": "sagemaker", "ResourceId": resource, "ScalableDimension": dimension},
    )
    sagemaker.add_response(
        "update_endpoint",
        {"EndpointArn": live["EndpointArn"]},
        {"EndpointName": "twin-endpoint", "EndpointConfigName": config["EndpointConfigName"]},
    )
    # The waiter polls until the update is done.
    sagemaker.add_response(
        "describe_endpoint", live | {"EndpointStatus": "Updating"}, {"EndpointName": ANY}
    )
    sagemaker.add_response(
        "describe_endpoint",
        live | {"EndpointConfigName": config["EndpointConfigName"]},
        {"EndpointName": "twin-endpoint"},
    )
    scaling.add_response(
        "register_scalable_target",
        {},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": resource,
            "ScalableDimension": dimension,
            "MinCapacity": 1,
            "MaxCapacity": 2,
        },
    )
    scaling.add_response(
        "put_scaling_policy",
        {
            "PolicyARN": "arn:aws:autoscaling:eu-central-1:123456789012:scalingPolicy:x",
            "Alarms": [],
        },
        {
            "PolicyName": "twin-endpoint-invocations-per-instance",
            "ServiceNamespace": "sagemaker",
            "ResourceId": resource,
            "ScalableDimension": dimension,
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 60.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleOutCooldown": 60,
                "ScaleInCooldown": 600,
            },
        },
    )
    sagemaker.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "twin-endpoint-v1-0ld0ld00",
            "EndpointConfigArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint-config/old",
            "ProductionVariants": [
                {"VariantName": "AllTraffic", "ModelName": "twin-endpoint-v1-m0"}
            ],
            "CreationTime": now,
        },
        {"EndpointConfigName": "twin-endpoint-v1-0ld0ld00"},
    )
    sagemaker.add_response(
        "delete_endpoint_config", {}, {"EndpointConfigName": "twin-endpoint-v1-0ld0ld00"}
    )
    sagemaker.add_response(
        "describe_model",
        {
            "ModelName": "twin-endpoint-v1-m0",
            "ModelArn": "arn:aws:sagemaker:eu-central-1:123456789012:model/old",
            "CreationTime": now,
        },
        {"ModelName": "twin-endpoint-v1-m0"},
    )
    sagemaker.add_response("delete_model", {}, {"ModelName": "twin-endpoint-v1-m0"})

    with sagemaker, scaling:
        summary = deployer.deploy(version, poll_s=0.01, max_wait_s=1)
    sagemaker.assert_no_pending_responses()
    scaling.assert_no_pending_responses()
    assert summary["action"] == "updated"
    assert summary["data_uri"] == data_uri


def test_an_endpoint_that_fails_to_start_reports_the_reason(aws, data_dir: Path) -> None:
    from botocore.stub import ANY, Stubber

    from llm_twin.infrastructure.aws.sagemaker_deploy import (
        DeploymentError,
        EndpointDeployer,
        EndpointSpec,
    )
    from llm_twin.model.serving import resolve_version

    settings = settings_for(data_dir)
    deployer = EndpointDeployer(EndpointSpec.from_settings(settings), settings, session=aws)
    version = resolve_version(settings, "1")
    now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    endpoint = {
        "EndpointName": "twin-endpoint",
        "EndpointArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint/twin-endpoint",
        "EndpointConfigName": "cfg",
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    reason = "The primary container did not pass the ping health check (startup timeout)."
    sagemaker = Stubber(deployer.sagemaker)
    _not_found(sagemaker, "describe_model", "model")
    sagemaker.add_response(
        "create_model", {"ModelArn": "arn:aws:sagemaker:eu-central-1:123456789012:model/new"}, None
    )
    _not_found(sagemaker, "describe_endpoint_config", "endpoint config")
    sagemaker.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint-config/new"},
        None,
    )
    _not_found(sagemaker, "describe_endpoint", "endpoint")
    sagemaker.add_response(
        "create_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint/twin-endpoint"},
        None,
    )
    failed = endpoint | {"EndpointStatus": "Failed", "FailureReason": reason}
    sagemaker.add_response("describe_endpoint", failed, {"EndpointName": ANY})
    sagemaker.add_response("describe_endpoint", failed, {"EndpointName": "twin-endpoint"})
    with sagemaker, pytest.raises(DeploymentError, match="startup timeout") as raised:
        deployer.deploy(version, poll_s=0.01, max_wait_s=1)
    assert "/aws/sagemaker/Endpoints/twin-endpoint" in str(raised.value)

    busy = Stubber(deployer.sagemaker)
    busy.add_response(
        "describe_model",
        {
            "ModelName": "m",
            "ModelArn": "arn:aws:sagemaker:eu-central-1:123456789012:model/m",
            "CreationTime": now,
        },
    )
    busy.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "c",
            "EndpointConfigArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint-config/c",
            "ProductionVariants": [{"VariantName": "AllTraffic"}],
            "CreationTime": now,
        },
    )
    busy.add_response("describe_endpoint", endpoint | {"EndpointStatus": "Creating"})
    with busy, pytest.raises(DeploymentError, match="is Creating"):
        deployer.deploy(version, poll_s=0.01, max_wait_s=1)


def test_cli_creates_role_deploys_shows_and_deletes(
    aws, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from llm_twin.settings import get_settings
    from tools.sagemaker_endpoint import app

    for name, value in {
        "DATA_DIR": str(data_dir),
        "AWS_REGION": REGION,
        "SAGEMAKER_BUCKET": BUCKET,
        "SAGEMAKER_INSTANCE_TYPE": "ml.g4dn.xlarge",
        "SAGEMAKER_ROLE_ARN": "",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(data_dir.parent)  # no project .env
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        refused = runner.invoke(app, ["deploy", "--version", "1"])
        assert refused.exit_code == 2
        assert "SAGEMAKER_ROLE_ARN" in refused.output

        created = runner.invoke(app, ["create-role"])
        assert created.exit_code == 0, created.output
        role_arn = json.loads(created.stdout.strip().splitlines()[-1])["role_arn"]
        monkeypatch.setenv("SAGEMAKER_ROLE_ARN", role_arn)
        get_settings.cache_clear()

        deployed = runner.invoke(app, ["deploy", "--version", "1", "--no-wait"])
        assert deployed.exit_code == 0, deployed.output
        summary = json.loads(deployed.stdout.strip().splitlines()[-1])
        assert summary["endpoint"] == "llm-twin" and summary["version"] == 1
        assert summary["autoscaling"] is None  # registered by the next run once in service
        assert "SAGEMAKER_ENDPOINT_NAME=llm-twin" in summary["use_it"]

        status = runner.invoke(app, ["status"])
        assert json.loads(status.stdout.strip().splitlines()[-1])["status"] == "InService"
        deleted = runner.invoke(app, ["delete", "--no-wait"])
        assert json.loads(deleted.stdout.strip().splitlines()[-1])["deleted"][0] == "llm-twin"
    finally:
        get_settings.cache_clear()
