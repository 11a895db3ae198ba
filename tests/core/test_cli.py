"""The ``revline`` console script and the commands the contract names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from revline.org.models import User

BIN = Path(sys.executable).parent
REVLINE = BIN / "revline"


@pytest.fixture
def revline_env(tmp_path):
    """A clean environment for the real script: its own data directory and SQLite file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVLINE_", "DJANGO_"))}
    env.update(
        REVLINE_DATA_DIR=str(tmp_path / "data"),
        REVLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'revline.sqlite3'}",
    )
    return env


def revline(*args, env, check=True):
    return subprocess.run(
        [str(REVLINE), *args], env=env, capture_output=True, text=True, timeout=120, check=check
    )


@pytest.mark.django_db
def test_createsuperuser_without_prompts(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long admin passphrase")
    call_command("createsuperuser", interactive=False, email="x@y.test", verbosity=0)
    user = User.objects.get(email="x@y.test")
    assert user.is_superuser and user.is_staff and user.is_active
    assert authenticate(None, username="x@y.test", password="a long admin passphrase") == user


def test_console_script_lists_the_revline_commands(revline_env):
    assert REVLINE.exists(), "the revline console script is not installed in the virtualenv"
    out = revline("help", env=revline_env).stdout
    commands = {line.strip() for line in out.splitlines()}
    assert {"demo", "serve", "worker", "migrate", "createsuperuser"} <= commands


def test_serve_help_shows_port(revline_env):
    out = revline("serve", "--help", env=revline_env).stdout
    assert "--port" in out
    assert "--host" in out


def test_clean_database_with_one_admin_by_script(revline_env):
    """The contract: a clean database with one admin can be set up without prompts."""
    revline("migrate", "--noinput", "-v", "0", env=revline_env)
    env = {**revline_env, "DJANGO_SUPERUSER_PASSWORD": "a long admin passphrase"}
    done = revline("createsuperuser", "--noinput", "--email", "Admin@Example.test", env=env)
    assert "Superuser created" in done.stdout
    check = revline(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.contrib.auth import authenticate as a;"
        "u = a(None, username='admin@example.test', password='a long admin passphrase');"
        "print(u.email, u.is_superuser, u.password.split('$')[0])",
        env=revline_env,
    )
    assert check.stdout.split() == ["admin@example.test", "True", "argon2"]
