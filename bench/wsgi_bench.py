"""The production app plus one hello-world JSON route, served by the same gunicorn workers.

Bench only (never deployed): ``gunicorn bench.wsgi_bench:app``. The hello-world route goes
through every hook the real endpoints go through (request id, security headers, access
log), so it is a fair baseline for the ratio the targets are expressed in.
"""

from flask import jsonify

from wsgi import app


@app.get("/bench/hello")
def bench_hello():
    return jsonify({"hello": "world"})
