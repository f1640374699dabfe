"""The agent settings read from the environment (SPEC §9): loud failures at start-up."""

from __future__ import annotations

import pytest

from app.config import Config, ConfigError


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    for name in ("AGENT_BASE_URL", "AGENT_API_KEY", "AGENT_MODEL",
                 "TASKPLAN_PYTHON_AGENT_PREFIXES", "TASKPLAN_AGENT_SECRET_PREFIXES"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_nothing_set_means_the_demo_orchestrator_and_no_python_agents(env):
    config = Config()
    assert config.AGENT_CONFIGURED is False
    assert config.PYTHON_AGENT_PREFIXES == ()
    assert config.AGENT_SECRET_PREFIXES == ("AGENT_", "OPENAI_", "WEBHOOK_")


def test_an_endpoint_without_a_model_refuses_to_start(env):
    env.setenv("AGENT_BASE_URL", "http://localhost:11434/v1")
    with pytest.raises(ConfigError, match="AGENT_MODEL is not set"):
        Config()
    env.setenv("AGENT_MODEL", "llama3")
    assert Config().AGENT_CONFIGURED is True


def test_a_key_alone_means_openai_and_the_key_is_not_kept_in_the_config(env):
    env.setenv("AGENT_API_KEY", "sk-config-test-0123456789")
    env.setenv("AGENT_MODEL", "gpt-4o-mini")
    config = Config()
    assert config.AGENT_CONFIGURED is True
    assert "sk-config-test-0123456789" not in repr(vars(config))


def test_a_base_url_that_is_not_http_is_refused(env):
    env.setenv("AGENT_BASE_URL", "localhost:8000")
    env.setenv("AGENT_MODEL", "m")
    with pytest.raises(ConfigError, match="AGENT_BASE_URL must start with http"):
        Config()


def test_prefix_lists_are_comma_separated(env):
    env.setenv("TASKPLAN_PYTHON_AGENT_PREFIXES", " acme.agents, ,tools ")
    env.setenv("TASKPLAN_AGENT_SECRET_PREFIXES", "AZURE_")
    config = Config()
    assert config.PYTHON_AGENT_PREFIXES == ("acme.agents", "tools")
    assert config.AGENT_SECRET_PREFIXES == ("AZURE_",)
