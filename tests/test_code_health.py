"""Code-shape limits the project holds itself to (issue 15): short functions and typed seams."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "llm_twin"
MAX_FUNCTION_LINES = 80
MAX_ANY_PARAMETERS = 20


def _functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path, source.splitlines(), node


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    arguments = node.args
    extra = [arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
    return [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, *extra]


def test_no_function_is_longer_than_the_limit():
    long = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} "
        f"({node.end_lineno - node.lineno + 1} lines)"
        for path, _, node in _functions()
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_any_typed_parameters_are_few_and_each_says_why():
    found, unexplained = [], []
    for path, lines, node in _functions():
        for parameter in _parameters(node):
            annotation = parameter.annotation
            if annotation is None or ast.unparse(annotation) not in ("Any", "Any | None"):
                continue
            place = f"{path.relative_to(PACKAGE.parent)}:{parameter.lineno}"
            where = f"{place} {node.name}({parameter.arg})"
            found.append(where)
            if "#" not in lines[parameter.lineno - 1]:
                unexplained.append(where)
    assert len(found) <= MAX_ANY_PARAMETERS, f"{len(found)} Any-typed parameters: {found}"
    assert not unexplained, f"Any-typed parameters without a reason comment: {unexplained}"
