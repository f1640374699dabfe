"""Configuration from the environment (SPEC §9)."""

from __future__ import annotations

import click
import pytest

from app.config import Config, ConfigError, database_url


@pytest.fixture
def production_env(monkeypatch):
    for name in ("SECRET_KEY", "FLASK_DEBUG", "TASKPLAN_LOCAL"):
        monkeypatch.delenv(name, raising=False)


def test_the_web_server_refuses_to_start_without_a_secret_key(production_env):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        Config()


def test_a_flask_command_runs_without_a_secret_key_as_it_signs_no_cookie(production_env):
    with click.Context(click.Command("db")):
        first, second = Config(), Config()
    assert len(first.SECRET_KEY) == 64 and first.SECRET_KEY != second.SECRET_KEY


def test_a_set_secret_key_is_used_everywhere(production_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    assert Config().SECRET_KEY == "k" * 40
    with click.Context(click.Command("db")):
        assert Config().SECRET_KEY == "k" * 40


def test_a_malformed_number_names_the_variable(production_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("TASKPLAN_PAGE_SIZE", "many")
    with pytest.raises(ConfigError, match="TASKPLAN_PAGE_SIZE must be a whole number"):
        Config()


def test_platform_style_postgres_urls_are_accepted():
    assert database_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url(None).startswith("sqlite:///") and database_url(None).endswith(
        "taskplan.db"
    )
