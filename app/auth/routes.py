"""Sign in, sign out, switch organization."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user, logout_user

from app.auth import bp, throttle
from app.auth.forms import LoginForm, SwitchOrgForm
from app.extensions import db
from app.models import User, utcnow


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after sign-in is a phishing aid.
    if target and target.startswith("/") and not target.startswith("//"):
        return target if not urlsplit(target).netloc else url_for("schedules.index")
    return url_for("schedules.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    if g.user is not None:
        return redirect(url_for("schedules.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email, address = form.email.data.strip().lower(), request.remote_addr or "unknown"
        wait = throttle.retry_after(email, address)
        if wait:
            minutes = max(1, round(wait / 60))
            form.form_errors.append(
                f"Too many failed sign-in attempts. Try again in about {minutes} minute"
                f"{'s' if minutes != 1 else ''}."
            )
            return render_template("auth/login.html", form=form), 429
        user = db.session.execute(db.select(User).where(User.email == email)).scalar_one_or_none()
        if user is not None and user.is_active and user.check_password(form.password.data):
            throttle.clear_account(email)
            user.last_login_at = utcnow()
            db.session.commit()
            session.clear()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        throttle.record_failure(email, address)
        form.form_errors.append("Wrong email or password.")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out."""
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/orgs/switch")
@login_required
def switch_org():
    """Make another of the user's organizations the current one."""
    form = SwitchOrgForm()
    if not form.validate_on_submit():
        abort(400, "Choose an organization.")
    membership = g.user.membership_in(form.organization_id.data)
    if membership is None:
        abort(404)
    session["org_id"] = membership.organization_id
    return redirect(url_for("schedules.index"))
