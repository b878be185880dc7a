"""Developer sessions: `nox` runs lint, type and test; `nox -s bench-quick` / `nox -s docs` on
demand. CI runs pytest alone (tests/test_style.py and tests/test_types.py cover lint and types).

    nox                       # lint, type, test
    nox -s test -- -x tests/test_store.py
    nox -s bench-quick        # a few minutes; rewrites benchmarks/results/ (the quick reports)
    nox -s docs               # mkdocs build --strict
"""

from __future__ import annotations

import nox

# the version .pre-commit-config.yaml's ruff hook pins: lint gives the same verdict there
RUFF = "ruff==0.17.6"

nox.options.sessions = ["lint", "type", "test"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the tree (as tests/test_style.py)."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(name="type")
def type_check(session: nox.Session) -> None:
    """mypy --strict on src/ (pyproject.toml's [tool.mypy])."""
    session.install("-e", ".[test]")
    session.run("mypy", *session.posargs)


@nox.session
def test(session: nox.Session) -> None:
    """pytest: the fast lanes by default; `CI=true nox -s test` (or LANES=all) runs them all."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(name="bench-quick")
def bench_quick(session: nox.Session) -> None:
    """The benchmarks' quick modes (benchmarks/README.md): the harness (about 2 minutes; the
    first run also builds the langgraph-checkpoint-redis venv it compares against), the stores
    (under 1) and the lifecycle (about 1). They rewrite the quick reports in
    benchmarks/results/."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/run.py", "--quick", "--runs", "3")
    session.run("python", "benchmarks/store.py", "--quick")
    session.run("python", "benchmarks/lifecycle.py", "--quick")


@nox.session
def docs(session: nox.Session) -> None:
    """mkdocs build --strict (mkdocs.yml; the `docs` extra has its theme), as tests/test_docs.py
    does."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")
