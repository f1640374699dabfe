"""The agent form. It renders fields and carries the CSRF token; the rules are
app/agents_admin/service.py's, so the console and the API can never disagree."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField

from app.models import Agent

KINDS = [
    SelectChoice("openai", "OpenAI-compatible (Chat Completions)"),
    SelectChoice("webhook", "Webhook (signed JSON POST)"),
    SelectChoice("python", "Python function"),
    SelectChoice("demo", "Demo (offline)"),
]
# The config fields each kind shows, in form order.
KIND_FIELDS = {
    "openai": ("base_url", "model", "system_prompt", "api_key_env"),
    "webhook": ("url", "secret_env"),
    "python": ("target",),
    "demo": (),
}
SECRET_NAME_FIELDS = ("api_key_env", "secret_env")
CONFIG_FIELDS = tuple(f for fields in KIND_FIELDS.values() for f in fields)


class AgentForm(FlaskForm):
    name = StringField("Name")
    kind = SelectField("Kind", choices=KINDS, default="openai")
    base_url = StringField("Base URL")
    model = StringField("Model")
    system_prompt = TextAreaField("System prompt")
    api_key_env = StringField("API key variable")
    url = StringField("URL")
    secret_env = StringField("Secret variable")
    target = StringField("Function")

    def data_for_service(self) -> dict[str, Any]:
        kind = self.kind.data
        # A cleared field is null, so an edit removes it (the config is merged, RFC 7396).
        config = {
            field: (getattr(self, field).data or "").strip() or None
            for field in KIND_FIELDS.get(kind, ())
        }
        return {"name": self.name.data or "", "kind": kind, "config": config}

    def show_errors(self, fields: dict[str, list[str]]) -> None:
        """Put the service's messages beside the fields they are about."""
        for key, messages in fields.items():
            name = key.removeprefix("config.")
            field = getattr(self, name if name in (*CONFIG_FIELDS, "name") else "kind", None)
            if field is not None:
                field.errors = [*field.errors, *messages]
                if name in SECRET_NAME_FIELDS:
                    # What was typed may be the secret itself: never send it back in the page.
                    field.data = ""

    def fill_from(self, agent: Agent) -> None:
        self.name.data = agent.name
        self.kind.data = agent.kind
        for field in CONFIG_FIELDS:
            getattr(self, field).data = (agent.config or {}).get(field, "")
