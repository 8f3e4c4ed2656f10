"""Config validation: wrong fields and values fail with messages naming them; the shipped
configs are valid; the hardware plan resolves CPU choices."""

from pathlib import Path

import pytest

from llm_twin.domain.exceptions import ImproperlyConfigured, InvalidInput
from llm_twin.model.finetuning.config import load_config_file, parse_config

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"sft": {"learning_rate": -1}}, "sft.learning_rate"),
        ({"sft": {"max_seq_length": 512}}, "sft.max_seq_length: Extra inputs are not permitted"),
        ({"dpo": {"beta": 0}}, "dpo.beta"),
        ({"device": "tpu"}, "device"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"quantization": "4bit", "device": "cpu"}, "'4bit' (QLoRA) needs device 'cuda'"),
        ({"precision": "bf16", "device": "cpu"}, "precision 'bf16' needs a GPU"),
        ({"promote_to": "live"}, "promote_to"),
        ({"model_name": "bad name/x"}, "model_name"),
        ({"sft": {"max_steps": 0}}, "max_steps must be -1"),
        ({"instruct_dataset_version": " "}, "instruct_dataset_version: Value error, must not"),
        ({"epochs": 3}, "epochs: Extra inputs are not permitted"),
        ({"pt": {"method": "half"}}, "pt.method"),
        ({"pt": {"max_length": 512}}, "set block_size, not max_length"),
        ({"pt": {"categories": ["poems"]}}, "unknown data category 'poems'"),
        ({"pt": {"block_size": 8}}, "pt.block_size"),
        ({"pt": {"method": "full", "lora": {"r": 8}}}, "apply to method 'lora' only"),
        (
            {"pt": {"enabled": True, "method": "full"}, "quantization": "4bit"},
            "pt.method 'full' trains every weight",
        ),
    ],
)
def test_bad_values_are_named(values: dict, expected: str) -> None:
    with pytest.raises(InvalidInput, match="invalid training config") as error:
        parse_config(values)
    assert expected in str(error.value)


def test_shipped_configs_are_valid() -> None:
    smoke = load_config_file(ROOT / "configs" / "training.yaml")
    assert smoke.sft.max_steps > 0 and smoke.dpo.max_steps > 0
    # The smoke version waits in staging for the evaluation gate, which promotes it.
    assert smoke.promote_to == "staging"
    from pipelines.configs import EvaluatingConfig, load_parameters

    quick, thorough = (
        EvaluatingConfig.model_validate(load_parameters(f"configs/{name}.yaml"))
        for name in ("evaluating", "evaluating_cpu")
    )
    assert quick.promote_to == thorough.promote_to == "production"
    assert quick.reevaluate_production and thorough.reevaluate_production
    # The training_cpu profile's evaluation is the larger one, the rest alike.
    assert (quick.max_samples, quick.rag.n_generation) == (10, 10)
    assert (thorough.max_samples, thorough.rag.n_generation) == (30, 30)
    differing = {
        name for name, value in quick.model_dump().items() if thorough.model_dump()[name] != value
    }
    assert differing == {"max_samples", "rag"}
    full = load_config_file(ROOT / "configs" / "training_full.yaml")
    assert full.device == "cuda" and full.quantization == "4bit"
    cpu = load_config_file(ROOT / "configs" / "training_cpu.yaml")
    assert cpu.device == "cpu" and cpu.promote_to == "staging"
    # Every profile continues pretraining on the author's documents before SFT.
    for profile in (smoke, cpu, full):
        assert profile.pt.enabled and profile.pt.block_size >= 256
    assert full.pt.method == "lora"  # QLoRA: a 4-bit base trains adapters only
    # Each profile's header states its measured time on this machine.
    for name in ("training.yaml", "training_cpu.yaml", "training_full.yaml"):
        header = (ROOT / "configs" / name).read_text().split("parameters:")[0]
        assert "Measured time" in header, name


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_config_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("parameters: [unclosed")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_config_file(broken)


def test_fingerprint_ignores_fields_that_do_not_change_the_weights() -> None:
    versions = {"instruct": "a", "preference": "b"}
    base = parse_config({})
    same = parse_config({"promote_to": "production", "tracking": "none", "force": True})
    assert base.fingerprint(versions, "m") == same.fingerprint(versions, "m")
    other = parse_config({"sft": {"learning_rate": 1e-3}})
    assert base.fingerprint(versions, "m") != other.fingerprint(versions, "m")
    pt = parse_config({"pt": {"enabled": True}})
    assert pt.fingerprint(versions, "m", "docs1") != base.fingerprint(versions, "m", "docs1")
    assert pt.fingerprint(versions, "m", "docs1") != pt.fingerprint(versions, "m", "docs2")
    rank = parse_config({"pt": {"enabled": True, "lora": {"r": 4}}})
    assert rank.fingerprint(versions, "m", "docs1") != pt.fingerprint(versions, "m", "docs1")
    assert base.fingerprint(versions, "m") != base.fingerprint({**versions, "instruct": "c"}, "m")


def test_cpu_plan_turns_gpu_features_off() -> None:
    from llm_twin.model.finetuning.hardware import plan_hardware

    plan = plan_hardware(parse_config({"device": "cpu"}))
    assert (plan.device, plan.precision, plan.gradient_checkpointing) == ("cpu", "fp32", False)
    arguments = plan.trainer_arguments(7)
    assert arguments["use_cpu"] is True and arguments["bf16"] is False
    assert arguments["seed"] == arguments["data_seed"] == 7


def test_cuda_requested_without_a_gpu_is_a_clear_error() -> None:
    import torch

    from llm_twin.model.finetuning.hardware import plan_hardware

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible here")
    with pytest.raises(ImproperlyConfigured, match="no CUDA GPU is visible"):
        plan_hardware(parse_config({"device": "cuda"}))


def test_missing_dataset_names_the_pipeline(tmp_path: Path) -> None:
    from llm_twin.model.finetuning.run import resolve_dataset_versions
    from llm_twin.settings import Settings

    settings = Settings(_env_file=None, DATA_DIR=tmp_path)
    with pytest.raises(InvalidInput, match=r"no instruct dataset under .*generate-instruct"):
        resolve_dataset_versions(parse_config({}), settings)


def test_missing_base_model_folder(tmp_path: Path) -> None:
    from llm_twin.model.finetuning.run import resolve_base_model
    from llm_twin.settings import Settings

    settings = Settings(_env_file=None, DATA_DIR=tmp_path)
    config = parse_config({"base_model": str(tmp_path / "nowhere")})
    with pytest.raises(InvalidInput, match="does not exist"):
        resolve_base_model(config, settings)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="not a Hugging Face model folder"):
        resolve_base_model(parse_config({"base_model": str(tmp_path / "empty")}), settings)
