"""Static assets: content-hashed URLs so phones cache them for a year and never revalidate.

Every page links its CSS and JS through ``asset(filename)``, which appends a short hash of
the file's bytes. A URL carrying the current hash is immutable; any other is cached briefly,
so an old page never keeps a stale file.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import request, url_for

STATIC_DIR = Path(__file__).resolve().parent / "static"
ONE_YEAR_S = 365 * 24 * 3600
UNVERSIONED_MAX_AGE_S = 300


@lru_cache(maxsize=256)
def _hash_of(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_version(filename: str) -> str:
    path = (STATIC_DIR / filename).resolve()
    if STATIC_DIR not in path.parents or not path.is_file():
        raise FileNotFoundError(filename)
    return _hash_of(str(path), path.stat().st_mtime_ns)


def asset(filename: str) -> str:
    """URL of a static file with its content hash (``/static/app.css?v=1a2b3c4d5e6f``)."""
    return url_for("web.static", filename=filename, v=asset_version(filename))


def cache_static(response):
    """Long-lived caching for hashed URLs of the blueprint's static files."""
    if request.endpoint != "web.static" or response.status_code not in (200, 304):
        return response
    filename = (request.view_args or {}).get("filename", "")
    try:
        current = asset_version(filename)
    except (FileNotFoundError, OSError):
        return response
    if response.direct_passthrough:
        # Read the (small) file now, closing it with the response: the compression hook would
        # otherwise replace the body and leave the file open.
        response.direct_passthrough = False
        response.make_sequence()
    response.cache_control.no_cache = None
    response.cache_control.public = True
    if request.args.get("v") == current:
        response.cache_control.max_age = ONE_YEAR_S
        response.cache_control.immutable = True
    else:
        response.cache_control.max_age = UNVERSIONED_MAX_AGE_S
    return response
