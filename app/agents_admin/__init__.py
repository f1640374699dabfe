from flask import Blueprint

bp = Blueprint("agents_admin", __name__)

from app.agents_admin import routes  # noqa: E402,F401
