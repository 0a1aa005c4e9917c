"""The WSGI app: ``create_app`` builds one Flask app around one ``Settings``."""

from __future__ import annotations

from flask import Flask

from app import api, auth, errors, health, metrics, openapi, otlp, requestlog
from app.resources import Resources
from common.config import Settings, load_settings
from common.logging import configure_logging


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Clients are created lazily in each process (gunicorn forks after import).
    app.extensions["stealthflow"] = Resources(settings)
    configure_logging(settings.log_level)
    errors.register(app)
    requestlog.register(app, settings.access_log)
    metrics.register(app)
    auth.register(app, settings)
    app.register_blueprint(api.bp)
    app.register_blueprint(otlp.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    return app
