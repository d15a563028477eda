"""The project's module structure, read from the source with `ast`.

Nothing here imports the packages (no TensorFlow, no Keras), so these tests run
in about a second, and no conftest of tests/layers, tests/pipelines or
tests/export is loaded for them.

- No import cycle among the modules of keras_attention, pipelines and export.
- Data flows one way (DESIGN.md): keras_attention imports nothing from
  pipelines or export, pipelines nothing from export, and none of the three
  imports benchmarks, examples or tests.
- No module in keras_attention/ or pipelines/pretrained/ is over 700 lines.

Every `import` statement counts, at module level or inside a function: an import
moved into a function to dodge a cycle still ties the two modules together.
Modules that a package imports on first use (`lazy_exports`, export/tasks.py) are
named in strings: a string shaped like a dotted project module path
(`"export.tasks"`) counts for the layering. benchmarks/ and examples/ are scripts
that nothing imports (the layering checks that), so the cycle check leaves them out.
"""

import ast
import pathlib

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("keras_attention", "pipelines", "export")
TOP_LEVEL = PACKAGES + ("benchmarks", "examples", "tests")
# What each package may not import, anywhere in it.
FORBIDDEN = {
    "keras_attention": ("pipelines", "export", "benchmarks", "examples", "tests"),
    "pipelines": ("export", "benchmarks", "examples", "tests"),
    "export": ("benchmarks", "examples", "tests"),
}
MAX_LINES = 700
LINE_LIMITED = ("keras_attention", "pipelines/pretrained")


# -- reading the source -----------------------------------------------------------


def module_files(top_level=TOP_LEVEL, root=None):
    """`{dotted module name: path}` of every .py file under the `top_level` folders."""
    root = root or REPOSITORY
    files = {}
    for folder in top_level:
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imports_of(name, path):
    """`[(imported name, line, is_string)]` of module `name`: every import
    statement's target (relative ones made absolute; `from x import y` gives
    `x.y`, which `project_module` shortens to `x` where `y` is not a module)
    and every string constant that looks like a dotted module name."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package):
                    continue  # above the repository: not a project import
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found += [(f"{module}.{alias.name}", node.lineno, False) for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts = node.value.split(".")
            if len(parts) > 1 and parts[0] in TOP_LEVEL and all(p.isidentifier() for p in parts):
                found.append((node.value, node.lineno, True))
    return found


def project_module(imported, modules):
    """The longest prefix of `imported` that is a project module, or None."""
    parts = imported.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) or None


def import_graph(files):
    """`{module: {imported project module: line}}` from import statements only."""
    graph = {name: {} for name in files}
    for name, path in files.items():
        for imported, line, is_string in imports_of(name, path):
            target = None if is_string else project_module(imported, files)
            if target and target != name:
                graph[name].setdefault(target, line)
    return graph


# -- the checks -------------------------------------------------------------------


def find_cycles(graph):
    """Each import cycle of `graph` as a path `[a, b, ..., a]`, one per strongly
    connected component of two or more modules (or one that imports itself)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []

    def visit(module):  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while module not in component:
                component.add(stack.pop())
            on_stack.difference_update(component)
            if len(component) > 1 or module in graph.get(module, ()):
                components.append(component)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_cycle_through(graph, component) for component in components]


def _cycle_through(graph, component):
    """A shortest path from the component's first module back to itself."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for imported in sorted(graph[module]):
                if imported == start:
                    return paths[module] + [start]
                if imported in component and imported not in paths:
                    paths[imported] = paths[module] + [imported]
                    following.append(imported)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # not a strongly connected component


def layering_violations(files):
    """`["module (line n) imports name"]` for each import a package may not make."""
    violations = []
    for name, path in files.items():
        forbidden = FORBIDDEN.get(name.split(".")[0], ())
        for imported, line, is_string in imports_of(name, path):
            if imported.split(".")[0] in forbidden:
                kind = "names, as a module to import on first use," if is_string else "imports"
                violations.append(f"{name} (line {line}) {kind} {imported}")
    return violations


def oversized_modules(folders=LINE_LIMITED, root=None, limit=MAX_LINES):
    """`{path relative to root: line count}` of the modules over `limit` lines."""
    root = root or REPOSITORY
    sizes = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                sizes[str(path.relative_to(root))] = lines
    return sizes


# -- the project --------------------------------------------------------------------


def test_no_import_cycle_among_the_project_modules():
    graph = import_graph(module_files(PACKAGES))
    cycles = find_cycles(graph)
    described = [
        " -> ".join(
            f"{module} (line {graph[module][imported]})"
            for module, imported in zip(cycle, cycle[1:])
        )
        + f" -> {cycle[-1]}"
        for cycle in cycles
    ]
    assert not cycles, (
        "Import cycles (each module imports the next at that line):\n  "
        + "\n  ".join(described)
        + "\nFix: move what the modules share into a module that imports none of "
        "them (as keras_attention/attention_equations.py holds what "
        "multi_head_attention.py and attention_projections.py both need), or "
        "have the caller pass one of them in instead of importing it."
    )


def test_data_flows_one_way_keras_attention_pipelines_export():
    violations = layering_violations(module_files(PACKAGES))
    assert not violations, (
        "Imports against the layering (DESIGN.md: export may import pipelines and "
        "keras_attention, pipelines only keras_attention, keras_attention neither; "
        "none of them imports benchmarks, examples or tests):\n  "
        + "\n  ".join(violations)
        + "\nFix: move the shared code down into the package that may be imported "
        "(a layer into keras_attention, a run reader into pipelines), or pass it "
        "in from the caller."
    )


def test_no_module_over_700_lines_in_keras_attention_or_pipelines_pretrained():
    oversized = oversized_modules()
    assert not oversized, (
        f"Modules over {MAX_LINES} lines: "
        + ", ".join(f"{path} ({lines} lines)" for path, lines in oversized.items())
        + ". Fix: give one concept of the module a module of its own (as the "
        "key/value cache of keras_attention/multi_head_attention.py has "
        "keras_attention/key_value_cache.py), and import it back."
    )


# -- the checks themselves can fail -------------------------------------------------


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}, "e": {"e": 1}}
    assert sorted(find_cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b": 1}, "b": {}, "c": {"a": 1, "b": 1}}) == []


def test_a_cycle_through_a_relative_import_in_a_function_is_found(tmp_path):
    package = tmp_path / "keras_attention"
    package.mkdir()
    (package / "__init__.py").write_text("from keras_attention.first import One\n")
    (package / "first.py").write_text("from keras_attention import second\n\nclass One: ...\n")
    (package / "second.py").write_text("def later():\n    from .first import One\n")
    (package / "third.py").write_text("import keras_attention.second\n")
    graph = import_graph(module_files(("keras_attention",), root=tmp_path))
    assert graph["keras_attention"] == {"keras_attention.first": 1}
    assert find_cycles(graph) == [
        ["keras_attention.first", "keras_attention.second", "keras_attention.first"]
    ]


def test_imports_against_the_layering_are_found(tmp_path):
    (tmp_path / "keras_attention").mkdir()
    (tmp_path / "keras_attention" / "layer.py").write_text(
        "import keras\n\ndef f():\n    from pipelines.common import errors\n"
    )
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "__init__.py").write_text(
        '"""pipelines.summarization, in a docstring, is no import."""\n'
        'LAZY = {"Exporter": "export.exporter", "extra": "export"}\n'
    )
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "run.py").write_text("from pipelines import summarization\n")
    files = module_files(PACKAGES, root=tmp_path)
    assert layering_violations(files) == [
        "keras_attention.layer (line 4) imports pipelines.common.errors",
        "pipelines (line 2) names, as a module to import on first use, export.exporter",
    ]


def test_a_module_over_the_limit_is_named(tmp_path):
    (tmp_path / "keras_attention").mkdir()
    (tmp_path / "keras_attention" / "long.py").write_text("x = 1\n" * 701)
    (tmp_path / "keras_attention" / "short.py").write_text("x = 1\n" * 700)
    assert oversized_modules(("keras_attention",), root=tmp_path) == {
        str(pathlib.Path("keras_attention", "long.py")): 701
    }
