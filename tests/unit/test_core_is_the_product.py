"""Every public function and class of each core package has a caller in the product (the pack outside ``tests/``).

Issue 11's rule: each rule has one implementation, in core, and the node path calls it — a core function that only
tests call is a second copy of a rule (or dead code). The check is textual and conservative: a public name (listed in
the package's ``__all__`` or defined at module level without a leading underscore) counts as called when its name
appears in a product file other than the module that defines it, or is used inside its own module by a name that is
itself called. ``KNOWN_UNUSED`` lists the exceptions with the reason.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ["prompt", "samplers", "schedulers", "lora", "infotext", "training", "xyz", "limits"]
PRODUCT_DIRS = ["nodes", "host", *CORE]
KNOWN_UNUSED = {
    # name: why it has no product caller
}


def _product_files():
    files = []
    for d in PRODUCT_DIRS:
        files += sorted((ROOT / d).rglob("*.py")) if (ROOT / d).exists() else []
    return files + [ROOT / "__init__.py"]


def _public_defs(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            yield node.name


def _referenced_names(path, skip_defs=()):
    """Names a file refers to in code (loads, attributes, imports; not strings or docstrings), leaving out the
    bodies of the definitions named in ``skip_defs`` (a function's own body does not call it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in skip_defs:
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                names.add(sub.attr)
            elif isinstance(sub, ast.alias) and path.name != "__init__.py":
                names.add(sub.name.rsplit(".", 1)[-1])
    return names


def test_every_public_core_function_has_a_product_caller():
    files = [f for f in _product_files() if f.name != "__init__.py"]
    used = {f: _referenced_names(f) for f in files}
    orphans = []
    for package in CORE:
        base = ROOT / package
        if not base.exists():
            continue
        for path in sorted(base.rglob("*.py")):
            if path.name == "__init__.py":
                continue
            for name in _public_defs(path):
                if name in KNOWN_UNUSED:
                    continue
                elsewhere = any(name in names for f, names in used.items() if f != path)
                inside = name in _referenced_names(path, skip_defs={name})
                if not elsewhere and not inside:
                    orphans.append(f"{path.relative_to(ROOT)}:{name}")
    assert not orphans, ("core functions no product code calls (wire them into the product or delete them): "
                         + ", ".join(orphans))
