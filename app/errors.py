"""Errors: JSON with SPEC §7's shape under /api/, a page everywhere else."""

from __future__ import annotations

from flask import Flask, jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.auth.access import is_api_request


class ValidationFailed(Exception):
    """Input that breaks a rule: one message per field, 422 unless another status fits better
    (409 for a name already taken, 400 for a missing delete confirmation)."""

    def __init__(
        self, fields: dict[str, list[str]], message: str = "Validation failed.", status: int = 422
    ) -> None:
        super().__init__(message)
        self.message, self.fields, self.status = message, fields, status


def api_error(status: int, message: str, fields: dict[str, list[str]] | None = None):
    body: dict = {"error": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


def init_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        if is_api_request():
            return api_error(400, error.description)
        return render_template("errors/error.html", error=error, code=400), 400

    @app.errorhandler(ValidationFailed)
    def _validation(error: ValidationFailed):
        return api_error(error.status, error.message, error.fields)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if is_api_request():
            # Werkzeug's stock descriptions are written for HTML pages; say it shortly instead.
            stock = error.description == type(error).description
            response = api_error(error.code or 500, error.name if stock else error.description)
            if error.code == 401:
                response[0].headers["WWW-Authenticate"] = 'Bearer realm="taskplan"'
            retry_after = getattr(error, "retry_after", None)
            if retry_after:
                response[0].headers["Retry-After"] = str(retry_after)
            return response
        return render_template("errors/error.html", error=error, code=error.code), error.code
