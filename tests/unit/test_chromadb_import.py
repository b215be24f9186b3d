"""chromadb loaded without its override checks (tools.chromadb_import) is the same chromadb."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SURVEY = """
import inspect, json, sys
{load}
marks = {{}}
for name, module in sorted(sys.modules.items()):
    if not name.startswith("chromadb") or module is None:
        continue
    for cls_name, cls in vars(module).items():
        if not inspect.isclass(cls) or cls.__module__ != name:
            continue
        for attr, value in vars(cls).items():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            elif isinstance(value, property):
                value = value.fget
            if callable(value):
                marks[f"{{name}}.{{cls_name}}.{{attr}}"] = bool(getattr(value, "__override__", False))
import overrides
print(json.dumps({{"marks": marks, "restored": overrides.override.__module__}}))
"""


def survey(load: str) -> dict[str, object]:
    code = textwrap.dedent(SURVEY.format(load=load))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_every_chromadb_class_has_the_same_methods_marked_as_with_the_checks() -> None:
    checked = survey("import chromadb, chromadb.api.rust")
    loaded = survey("from tools.chromadb_import import load_chromadb; load_chromadb()")
    assert loaded["marks"] == checked["marks"]
    marks = checked["marks"]
    assert isinstance(marks, dict)
    assert sum(marks.values()) > 100  # the decorator was in use: the comparison covers it
    assert marks.get("chromadb.api.rust.RustBindingsAPI._get") is True  # the local client class is compared
    assert loaded["restored"] == checked["restored"] == "overrides.overrides"


def test_the_checks_are_back_once_chromadb_is_loaded() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                from tools.chromadb_import import load_chromadb
                load_chromadb()
                from overrides import override
                class Base:
                    def method(self, a): ...
                try:
                    class Child(Base):
                        @override
                        def other(self): ...
                except TypeError as exc:
                    print("checked:", exc)
                """
            ),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("checked: ") and "No super class method found" in out
