"""tools/bytecode.py: finds the project's imports (lazy ones included) and caches their
bytecode even where PYTHONDONTWRITEBYTECODE is set."""

import sys

from tools.bytecode import TORCH_FAMILY, groups, import_all, imported_modules, project_modules


def test_lazy_imports_inside_functions_are_found_with_the_names_taken():
    imports = imported_modules()
    # base_model.py imports transformers inside prepare_base_model, not at module level.
    assert "LlamaForCausalLM" in imports["transformers"]
    assert "torch" in imports
    assert "zenml" in {name.split(".")[0] for name in imports}
    assert not any(name.startswith(("llm_twin.", "tests")) for name in groups()[0])


def test_project_modules_are_dotted_names_of_the_packages():
    modules = project_modules()
    assert "llm_twin.model.base_model" in modules
    assert "llm_twin" in modules  # a package's __init__ is its own name
    assert "tools.bytecode" in modules
    assert not any(name.endswith("__init__") for name in modules)


def test_the_torch_family_is_compiled_apart_from_the_rest():
    torch_family, rest = groups()
    assert {name.split(".")[0] for name in torch_family} <= TORCH_FAMILY
    assert "transformers" in torch_family and "transformers" not in rest
    assert "llm_twin.settings" in rest


def test_import_all_writes_bytecode_even_when_writing_is_off(tmp_path, monkeypatch):
    package = tmp_path / "bytecode_probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "leaf.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    modules = {"bytecode_probe_pkg": {"leaf"}, "bytecode_probe_missing": set()}
    try:
        # The missing module is reported by name and error, not raised.
        assert import_all(modules) == ["bytecode_probe_missing (ModuleNotFoundError)"]
        assert list((package / "__pycache__").glob("leaf.*.pyc"))
    finally:
        for name in ("bytecode_probe_pkg", "bytecode_probe_pkg.leaf"):
            sys.modules.pop(name, None)
