"""`make run` installs requirements.txt alone: everything the app imports must come from it.

Test and bench tools live in requirements-dev.txt, so a newcomer's first `make run` does not
wait for them. These checks read the app's imports (contest/, wsgi.py, server/) and the
installed packages' own dependency lists, so an import of a package that only the tests install
fails here, not on a fresh machine.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
APP_SOURCES = [
    *(ROOT / "contest").rglob("*.py"),
    ROOT / "wsgi.py",
    *(ROOT / "server").rglob("*.py"),
]
TEST_TOOLS = {
    "pytest",
    "pytest-xdist",
    "playwright",
    "hypothesis",
    "moto",
    "aiosmtpd",
    "tuspy",
    "opencv-python-headless",
    "ruff",
}


def requirements(path: Path) -> list[Requirement]:
    """The requirements a file names itself (an `-r` include is not followed)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def closure(roots: list[Requirement]) -> set[str]:
    """The distributions pip installs for `roots`: them and their dependencies, as installed."""
    found: set[str] = set()
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in roots]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in found:
            continue
        found.add((name, extras))
        for line in metadata.requires(name) or ():
            requirement = Requirement(line)
            wanted = any(
                requirement.marker is None or requirement.marker.evaluate({"extra": extra})
                for extra in {"", *extras}
            )
            if wanted:
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return {name for name, _ in found}


def top_level_imports(paths: list[Path]) -> set[str]:
    """The top-level module of every absolute import in these files."""
    modules = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def test_the_app_imports_only_what_requirements_txt_installs():
    app_packages = closure(requirements(ROOT / "requirements.txt"))
    providers = metadata.packages_distributions()
    own = {"contest", "server", "wsgi"}
    third_party = top_level_imports(APP_SOURCES) - own - set(sys.stdlib_module_names)
    assert third_party, "no third-party import found: the scan is broken"
    missing = {
        module: providers.get(module, ["(not installed)"])
        for module in third_party
        if not {canonicalize_name(d) for d in providers.get(module, [])} & app_packages
    }
    assert missing == {}, (
        f"imported by the app but only installed by the dev requirements: {missing}"
    )


def test_test_tools_are_not_in_requirements_txt():
    named = {canonicalize_name(r.name) for r in requirements(ROOT / "requirements.txt")}
    assert sorted(named & TEST_TOOLS) == []


def test_the_dev_requirements_include_the_apps_and_pin_every_tool():
    dev = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev.read_text().splitlines()
    tools = requirements(dev)
    assert {canonicalize_name(r.name) for r in tools} >= TEST_TOOLS
    assert [str(r) for r in tools if not str(r.specifier).startswith("==")] == []


# What the app loads at run time, not only what its files import: a subprocess where every
# module that only the dev requirements install cannot be imported builds the app, migrates a
# new database and serves the landing page, as `make run` does on a fresh machine.
_WITHOUT_DEV_TOOLS = """
import importlib.abc, json, os, sys

AT_START = set(sys.modules)  # what the interpreter loaded itself (setuptools' .pth hook)

class DevToolsAreNotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is only in requirements-dev.txt", name=name)

BLOCKED = set(json.loads(sys.argv[1]))
sys.meta_path.insert(0, DevToolsAreNotInstalled())
from contest import create_app

app = create_app()
result = app.test_cli_runner().invoke(args=["init-db"])
assert result.exit_code == 0, result.output
page = app.test_client().get("/")
assert page.status_code == 200, page.status_code
print("served", sorted(m for m in set(sys.modules) - AT_START if m.split(".")[0] in BLOCKED))
"""


def test_the_app_runs_without_the_dev_requirements(tmp_path):
    app_packages = closure(requirements(ROOT / "requirements.txt"))
    blocked = sorted(
        module
        for module, dists in metadata.packages_distributions().items()
        if not {canonicalize_name(d) for d in dists} & app_packages
    )
    assert {"pytest", "playwright", "moto", "hypothesis", "cv2"} <= set(blocked)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTEST_", "FLASK_"))}
    env |= {
        "CONTEST_INSTANCE_PATH": str(tmp_path / "instance"),
        "CONTEST_UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "CONTEST_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'contest.db'}",
        "CONTEST_SECRET_KEY": "test-only-key",
    }
    run = subprocess.run(
        [sys.executable, "-c", _WITHOUT_DEV_TOOLS, json.dumps(blocked)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "served []"
