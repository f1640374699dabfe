"""The `python` kind: allow-listed modules only, loaded fresh at each run."""

from __future__ import annotations

import textwrap

import pytest

from app.agents_admin import service
from app.errors import ValidationFailed
from app.extensions import db
from app.models import ChatSession
from tests import agent_servers
from tests.agent_servers import fire_and_execute, make_agent
from tests.engine_helpers import make_schedule

ctx = agent_servers.ctx  # fixture


@pytest.fixture
def package(ctx, tmp_path, monkeypatch):
    """A package `tp_agents_<n>` on sys.path, allowed by the prefix list; write(code) sets
    its `daily` module."""
    name = f"tp_agents_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    ctx.config["PYTHON_AGENT_PREFIXES"] = (name,)

    def write(code: str) -> str:
        (root / "daily.py").write_text(textwrap.dedent(code))
        return f"{name}.daily"

    write.package = name
    yield write
    import sys

    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]


def schedule_for(admin, **fields) -> int:
    fields.setdefault("agent", "py")
    fields.setdefault("schedule_config", {"expression": "0 * * * *"})
    return make_schedule(admin.id, admin.org_id, **fields)


def test_the_function_gets_the_prompt_history_and_context_and_its_reply_is_kept(package, admin):
    module = package("""
        def run(prompt, history, context):
            return {"reply": f"{prompt} / {len(history)} / {context['run']['attempt']}",
                    "usage": {"prompt_tokens": 4, "completion_tokens": 2}}
    """)
    make_agent(admin.org_id, "py", "python", {"target": f"{module}:run"})
    run = fire_and_execute(schedule_for(admin, prompt="Go"))
    assert run.status == "SUCCESS", run.error
    assert db.session.get(ChatSession, run.session_id).messages[-1].content == "Go / 0 / 1"
    assert (run.prompt_tokens, run.completion_tokens) == (4, 2)


def test_the_module_is_loaded_fresh_at_each_run(package, admin):
    module = package("def run(prompt, history, context):\n    return 'first version'\n")
    make_agent(admin.org_id, "py", "python", {"target": f"{module}:run"})
    sid = schedule_for(admin)
    first = fire_and_execute(sid)
    package("def run(prompt, history, context):\n    return 'the second version'\n")
    second = fire_and_execute(sid)
    replies = [
        db.session.get(ChatSession, r.session_id).messages[-1].content for r in (first, second)
    ]
    assert replies == ["first version", "the second version"]


def test_skip_from_a_function(package, admin):
    module = package("def run(prompt, history, context):\n    return 'SKIP'\n")
    make_agent(admin.org_id, "py", "python", {"target": f"{module}:run"})
    run = fire_and_execute(schedule_for(admin))
    assert (run.status, run.reason) == ("SKIPPED", "agent_skip")


def test_an_exception_fails_the_run_with_its_type_and_message(package, admin):
    module = package("def run(prompt, history, context):\n    raise KeyError('report')\n")
    make_agent(admin.org_id, "py", "python", {"target": f"{module}:run"})
    run = fire_and_execute(schedule_for(admin))
    assert (run.status, run.reason, run.error) == (
        "FAILED", "agent_error", f"Python agent {module}:run raised KeyError: 'report'"
    )  # fmt: skip


def test_a_module_outside_the_allow_list_is_refused_when_saved(package, ctx, admin):
    with pytest.raises(ValidationFailed) as refused:
        make_agent(admin.org_id, "py", "python", {"target": "os:system"})
    assert refused.value.fields == {
        "config.target": [
            f"Module os is not under an allowed prefix (TASKPLAN_PYTHON_AGENT_PREFIXES: "
            f"{package.package})."
        ]
    }
    with pytest.raises(ValidationFailed) as similar:
        # A prefix matches whole module names: tp_agents_x does not allow tp_agents_xy.
        make_agent(admin.org_id, "py", "python", {"target": f"{package.package}y.mod:run"})
    assert "not under an allowed prefix" in similar.value.fields["config.target"][0]


def test_a_narrowed_allow_list_stops_runs_of_saved_agents(package, ctx, admin):
    module = package("def run(prompt, history, context):\n    return 'ok'\n")
    make_agent(admin.org_id, "py", "python", {"target": f"{module}:run"})
    ctx.config["PYTHON_AGENT_PREFIXES"] = ()
    run = fire_and_execute(schedule_for(admin))
    assert run.error == (
        f"Python module {module} is not under an allowed prefix (TASKPLAN_PYTHON_AGENT_PREFIXES)"
    )


def test_without_an_allow_list_no_python_agent_can_be_saved(ctx, admin):
    ctx.config["PYTHON_AGENT_PREFIXES"] = ()
    with pytest.raises(ValidationFailed) as refused:
        service.create_agent(
            admin.org_id, None, {"name": "py", "kind": "python", "config": {"target": "a.b:c"}}
        )
    assert "none are configured" in refused.value.fields["config.target"][0]


def test_a_missing_function_or_module_is_a_clear_error(package, admin):
    module = package("x = 1\n")
    make_agent(admin.org_id, "py", "python", {"target": f"{module}:run"})
    make_agent(admin.org_id, "gone", "python", {"target": f"{package.package}.nope:run"})
    assert fire_and_execute(schedule_for(admin)).error == (
        f"Python agent {module}:run: {module} has no function run"
    )
    error = fire_and_execute(schedule_for(admin, name="Other", agent="gone")).error
    assert error.startswith(f"Python agent {package.package}.nope:run could not be loaded: ")
