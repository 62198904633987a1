"""The certificate-free city platform: application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from backend.config import Config, config_from_env


class ConfigurationError(RuntimeError):
    """The app refuses to start with this configuration; the message says why."""


def _load_or_create_secret(app: Flask, name: str, factory) -> str:
    path = Path(app.instance_path) / name.lower()
    if path.exists():
        return path.read_text().strip()
    value = factory()
    path.write_text(value)
    path.chmod(0o600)
    return value


def _resolve_secrets(app: Flask) -> None:
    from backend.security.crypto import new_key

    generators = {"SECRET_KEY": lambda: os.urandom(32).hex(), "DATA_ENCRYPTION_KEY": new_key}
    for name, factory in generators.items():
        if app.config.get(name):
            continue
        if not app.config["GENERATE_MISSING_SECRETS"]:
            raise ConfigurationError(
                f"{name} is required in {app.config['ENV_NAME']}: set it in the environment "
                f"or in {Path(app.instance_path) / name.lower()}"
            )
        app.config[name] = _load_or_create_secret(app, name, factory)


def _check_startup(app: Flask) -> None:
    if not app.config.get("REDIS_URL") and int(app.config["WORKERS"]) > 1:
        raise ConfigurationError(
            "The in-process token store works with one worker only; "
            f"{app.config['WORKERS']} workers are configured. Set REDIS_URL."
        )
    if not app.config.get("WECHAT_PUSH_TOKEN"):  # anyone could sign pushes with a default
        raise ConfigurationError(
            f"WECHAT_PUSH_TOKEN is required in {app.config['ENV_NAME']}: set it to the token "
            "configured for message push in the mini-program's console"
        )


def _refuse_demo_accounts_in_production(app: Flask) -> None:
    from sqlalchemy import inspect, select

    from backend.extensions import db
    from backend.models import User

    with app.app_context():
        if not inspect(db.engine).has_table("users"):
            return
        demo = db.session.scalar(select(User.username).where(User.is_demo.is_(True)).limit(1))
        db.session.remove()
        db.engine.dispose()  # no connection outlives start-up (workers may fork after it)
    if demo is not None:
        raise ConfigurationError(
            f"Demo account '{demo}' exists: production refuses to start with demo data."
        )


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in routes: at most PostgreSQL's ``integer``. A larger id names no row,
    so it is a 404 here rather than a parameter the database refuses (a 500)."""

    def __init__(self, url_map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: type[Config] | dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` is a config class, or a dict of overrides on the env config."""
    instance_path = os.environ.get("INSTANCE_PATH")
    # static_folder=None: the web app's blueprint serves /static; the app's own (empty) static
    # route would shadow it.
    app = Flask(
        __name__, instance_path=instance_path, instance_relative_config=True, static_folder=None
    )
    app.url_map.converters["int"] = RowIdConverter
    if isinstance(config, dict):
        base = config.get("CONFIG_CLASS", config_from_env())
        app.config.from_object(base)
        app.config.update({k: v for k, v in config.items() if k != "CONFIG_CLASS"})
    else:
        app.config.from_object(config or config_from_env())
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(
            Path(app.instance_path) / "certfree.sqlite3"
        )
    _resolve_secrets(app)
    _check_startup(app)
    from backend.json_provider import OrjsonProvider

    app.json = OrjsonProvider(app)
    app.json.ensure_ascii = False

    from backend.logging_setup import configure_logging

    configure_logging(app)

    from backend.extensions import compress, csrf, db, login_manager, migrate
    from backend.security.crypto import DataCipher, decode_key
    from backend.token_store import build_token_store

    db.init_app(app)
    from backend.db_pool import OwnAutocommitConnections, install_idle_ping

    with app.app_context():
        for engine in db.engines.values():
            install_idle_ping(engine, app.config["DB_PING_IDLE_S"])
        app.extensions["own_autocommit_connections"] = OwnAutocommitConnections(
            db.engine, app.config["DB_PING_IDLE_S"]
        )
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.login_message = "请先登录"
    csrf.init_app(app)
    compress.init_app(app)
    app.extensions["token_store"] = build_token_store(app.config.get("REDIS_URL"))
    app.extensions["data_cipher"] = DataCipher(decode_key(app.config["DATA_ENCRYPTION_KEY"]))

    import backend.auth
    import backend.models  # noqa: F401
    from backend.cli import register_cli
    from backend.errors import register_errors
    from backend.health import bp as health_bp
    from backend.security.headers import register_security_headers
    from backend.validation import register_input_checks
    from miniprogram_api import bp as api_bp
    from miniprogram_api.openapi import bp as openapi_bp
    from notifications import init_app as init_notifications
    from webapp import bp as web_bp

    csrf.exempt(api_bp)  # the API checks CSRF itself for cookie sessions (backend.auth)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(openapi_bp)
    app.register_blueprint(web_bp)
    backend.auth.init_app(app)
    register_input_checks(app)
    register_errors(app)
    register_security_headers(app)
    register_cli(app)
    init_notifications(app)

    if app.config.get("TRUST_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    if app.config["ENV_NAME"] == "production":
        _refuse_demo_accounts_in_production(app)
    return app
