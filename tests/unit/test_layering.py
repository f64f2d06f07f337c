"""The packages import downwards only: schemas ← connectors ← agents ← webapp ← pinewire (the
composition root: CLI, `up`, process supervision). A module that reaches up a layer fails here
with its file and the import."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["schemas", "connectors", "agents", "webapp", "pinewire"]


def upward_imports(package: str, root: Path = ROOT) -> list[str]:
    above = LAYERS[LAYERS.index(package) + 1:]
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            found += [f"{path.relative_to(root)}:{node.lineno} imports {module}"
                      for module in modules if module.split(".")[0] in above]
    return found


def test_every_package_imports_only_the_layers_below_it():
    assert {p: upward_imports(p) for p in LAYERS} == {p: [] for p in LAYERS}


def test_an_upward_import_is_found(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "x.py").write_text("def f():\n    from webapp import links\n")
    assert upward_imports("schemas", tmp_path) == ["schemas/x.py:2 imports webapp"]
