"""Every public name of the package has a numpydoc docstring, and its examples run.

For each module of ``stdp_ebm`` (found with :mod:`pkgutil`; importing a module of ours never imports
Brian2) and each public name *defined in that module* (the names in ``__all__``, or those not starting
with ``_`` when the module has no ``__all__``):

* functions and classes have a docstring, parsed with :class:`numpydoc.docscrape.NumpyDocString` (an
  unknown or malformed section is a failure);
* a function, or a public method of a public class (dunder methods aside), whose parameters other than
  ``self``/``cls`` are not empty has a ``Parameters`` section naming each of them (``*args`` as
  ``*args``; ``x, y : float`` names both), and no name the signature lacks (a renamed argument);
* a function whose return annotation is not ``None`` has a ``Returns`` (or ``Yields``) section;
  a property only needs a docstring;
* a class whose ``__init__`` (its own or one of the package's, not a builtin's) takes arguments names
  them in a ``Parameters`` section of the class docstring; a dataclass or named tuple may document its
  fields as ``Attributes`` instead;
* a module-level constant has a ``#:`` comment above it or a string literal below it (what Sphinx's
  autodoc reads as the constant's docstring).

``test_examples_run`` runs the ``>>>`` examples of every checked module with :mod:`doctest` (the
suite does not run ``--doctest-modules``; this keeps the examples in the default suite without
importing the modules that need Brian2 at run time).

An experiment module's one public name is its
``EXPERIMENT`` (its ``__all__``): its functions are that experiment's internals, and a study builds
on the library modules instead (:mod:`stdp_ebm.experiments`).

Cost: about 2.5 CPU-s beyond pytest's start (mostly importing matplotlib with
:mod:`stdp_ebm.plotting`); no Brian2 code is generated.
"""

from __future__ import annotations

import ast
import dataclasses
import doctest
import importlib
import importlib.util
import inspect
import pkgutil
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import stdp_ebm

# numpydoc's parser, not a hand-written one: the same reading of sections as the numpydoc standard
numpydoc_docscrape = pytest.importorskip(
    "numpydoc.docscrape", reason="test extra not installed: pip install -e '.[test]'")

def _all_modules() -> list[str]:
    names = [stdp_ebm.__name__]
    for info in pkgutil.walk_packages(stdp_ebm.__path__, prefix=stdp_ebm.__name__ + "."):
        names.append(info.name)
    return sorted(names)


MODULES = _all_modules()


def _has_examples(name: str) -> bool:
    """Whether the module's source holds a ``>>>`` example (read without importing it)."""
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.origin is not None and ">>>" in Path(spec.origin).read_text(
        encoding="utf-8")


#: the checked modules with examples: test_examples_run runs them
EXAMPLE_MODULES = [m for m in MODULES if _has_examples(m)]


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return list(names)


def _constant_docs(module: ModuleType) -> dict[str, bool]:
    """Module-level assignments of ``module`` -> whether a ``#:`` comment or a string documents it."""
    source = inspect.getsource(module)
    lines = source.splitlines()
    body = ast.parse(source).body
    out: dict[str, bool] = {}
    for i, node in enumerate(body):
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        else:
            continue
        above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
        nxt = body[i + 1] if i + 1 < len(body) else None
        below = (isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                 and isinstance(nxt.value.value, str))
        inline = "#:" in lines[node.lineno - 1]
        for t in targets:
            out[t] = above.startswith("#:") or below or inline
    return out


def _parse(doc: str, where: str, problems: list[str]) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parsed = numpydoc_docscrape.NumpyDocString(doc)
        except Exception as exc:  # numpydoc raises ValueError on a malformed section
            problems.append(f"{where}: docstring does not parse as numpydoc ({exc})")
            return None
    problems.extend(f"{where}: {w.message}" for w in caught)
    return parsed


def _documented(parsed: Any, *sections: str) -> set[str]:
    names: set[str] = set()
    for section in sections:
        for p in parsed[section]:
            names.update(n.strip() for n in p.name.split(","))
    return names


def _param_names(sig: inspect.Signature) -> list[str]:
    out = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        out.append(prefix + p.name)
    return out


def _missing(wanted: list[str], have: set[str]) -> list[str]:
    return [w for w in wanted if w not in have and w.lstrip("*") not in have]


def _stale(wanted: list[str], parsed: Any) -> list[str]:
    """Names in the Parameters sections that the signature no longer has (a renamed argument)."""
    names = {w.lstrip("*") for w in wanted}
    return sorted(n for n in _documented(parsed, "Parameters", "Other Parameters")
                  if n.lstrip("*") not in names)


def _check_function(func: Any, where: str, problems: list[str]) -> None:
    doc = inspect.getdoc(func)
    if not doc:
        problems.append(f"{where}: no docstring")
        return
    parsed = _parse(doc, where, problems)
    if parsed is None:
        return
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return
    wanted = _param_names(sig)
    lacking = _missing(wanted, _documented(parsed, "Parameters", "Other Parameters"))
    if lacking:
        problems.append(f"{where}: Parameters section lacks {', '.join(lacking)}")
    stale = _stale(wanted, parsed)
    if stale:
        problems.append(f"{where}: Parameters section names {', '.join(stale)}, not in the signature")
    ret = sig.return_annotation
    returns = ret not in (None, "None", inspect.Signature.empty)
    if returns and not (parsed["Returns"] or parsed["Yields"]):
        problems.append(f"{where}: no Returns section (returns {ret})")


def _own_init(cls: type) -> Any:
    """The ``__init__`` (or ``__new__``) of the package that builds ``cls``; None for a builtin's."""
    for klass in cls.__mro__:
        for attr in ("__init__", "__new__"):
            if attr in vars(klass):
                owner = getattr(vars(klass)[attr], "__module__", None) or klass.__module__
                if klass.__module__.startswith("stdp_ebm") and (
                        owner.startswith("stdp_ebm") or dataclasses.is_dataclass(klass)
                        or hasattr(klass, "_fields")):
                    return vars(klass)[attr]
        if klass.__module__ in ("builtins", "typing", "abc") or klass is object:
            return None
    return None


def _check_class(cls: type, where: str, problems: list[str]) -> None:
    doc = inspect.getdoc(cls) if cls.__doc__ else None  # not a base class's docstring
    if not doc:
        problems.append(f"{where}: no docstring")
    else:
        parsed = _parse(doc, where, problems)
        init = _own_init(cls)
        if parsed is not None and init is not None:
            try:
                wanted = _param_names(inspect.signature(cls))
            except (TypeError, ValueError):
                wanted = []
            sections = ["Parameters", "Other Parameters"]
            if dataclasses.is_dataclass(cls) or hasattr(cls, "_fields"):
                sections.append("Attributes")
            lacking = _missing(wanted, _documented(parsed, *sections))
            if lacking:
                problems.append(f"{where}: Parameters section lacks {', '.join(lacking)}")
            stale = _stale(wanted, parsed) if wanted else []
            if stale:
                problems.append(f"{where}: Parameters section names {', '.join(stale)}, "
                                "not in the signature")
    for name, attr in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(attr, property):
            if not (attr.fget and attr.fget.__doc__):
                problems.append(f"{where}.{name}: no docstring (property)")
        elif isinstance(attr, (staticmethod, classmethod)) or inspect.isfunction(attr):
            _check_function(getattr(cls, name), f"{where}.{name}", problems)


def _problems(module: ModuleType) -> list[str]:
    problems: list[str] = []
    constants = _constant_docs(module)
    for name in _public_names(module):
        where = f"{module.__name__}.{name}"
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if obj.__module__ != module.__name__:
                continue  # re-exported: checked where it is defined
            if inspect.isclass(obj):
                _check_class(obj, where, problems)
            else:
                _check_function(obj, where, problems)
        elif name in constants and not constants[name]:
            problems.append(f"{where}: constant without a '#:' comment or docstring")
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_public_names_have_numpydoc(name):
    problems = _problems(importlib.import_module(name))
    assert not problems, f"{len(problems)} docstring problem(s) in {name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", EXAMPLE_MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
