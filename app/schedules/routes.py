from __future__ import annotations

from flask import g, redirect, render_template, url_for

from app.auth.access import role_required
from app.extensions import db
from app.models import Schedule
from app.schedules import bp


@bp.get("/")
def home():
    """The console starts at the schedules list."""
    return redirect(url_for("schedules.index"))


@bp.get("/schedules")
@role_required("viewer")
def index():
    """The schedules of the current organization."""
    schedules = db.session.execute(
        db.select(Schedule).where(Schedule.organization_id == g.org.id).order_by(Schedule.name_key)
    ).scalars()
    return render_template("schedules/index.html", schedules=list(schedules))
