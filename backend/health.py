"""``GET /healthz``: is the database and the token store reachable."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from backend.extensions import db
from backend.token_store import get_token_store
from miniprogram_api.registry import ANYONE, EndpointSpec, document

bp = Blueprint("health", __name__)

document(
    EndpointSpec(
        path="/healthz",
        method="get",
        summary="Liveness and dependencies; 503 when a dependency is down",
        tags=["health"],
        auth=ANYONE,
        body=None,
        query=None,
        response={
            "type": "object",
            "properties": {
                "status": {"enum": ["ok", "degraded"]},
                "database": {"enum": ["ok", "down"]},
                "token_store": {"enum": ["redis", "memory"]},
                "token_store_status": {"enum": ["ok", "down"]},
            },
        },
        status=200,
        errors=[503],
    )
)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # any driver failure means "down" here
        db.session.rollback()
        database = "down"
    store = get_token_store()
    store_ok = store.health()
    healthy = database == "ok" and store_ok
    body = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "token_store": store.kind,
        "token_store_status": "ok" if store_ok else "down",
    }
    return jsonify(body), 200 if healthy else 503
