"""CPU per request and per operation, in one process: where a scan's time goes.

Runs the production app in-process (Flask test client, no gunicorn, no load generator) on
the ``bench_codes`` database that ``bench/codes.py`` fills, and reports the process CPU time
(best of five rounds, so another tenant's load matters less than for throughput):

1. whole requests: hello-world, ``POST /codes``, ``POST /scans``;
2. the operations they are made of: a Redis round trip through the token store, a
   statement through SQLAlchemy's session and through the bare driver, a session's
   begin/commit cycle, the ORM's load of one account, one ``notify``.

    /work/venv/bin/python bench/codes.py            # once: creates and fills bench_codes
    /work/venv/bin/python bench/request_costs.py    # --requests N per round
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(args) -> None:
    base = args.pg_admin_url.rsplit("/", 1)[0]
    os.environ.update(
        {
            "APP_ENV": "production",
            "DATABASE_URL": f"{base}/{args.database}",
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": "bench-secret-key",
            "WECHAT_PUSH_TOKEN": "bench-push-token",
            "DATA_ENCRYPTION_KEY": "YmVuY2gtb25seS1kYXRhLWVuY3J5cHRpb24ta2V5ISE=",
            "WEB_CONCURRENCY": "2",
            "TRUST_PROXY": "0",
            "SESSION_COOKIE_SECURE": "0",
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-costs-"),
            "RATE_LIMIT_SCANS": "100000000/minute",
            "RATE_LIMIT_CODES": "100000000/minute",
        }
    )


def best_cpu_us(fn, n: int, rounds: int = 5) -> float:
    """The lowest process CPU time per call over ``rounds`` rounds of ``n`` calls."""
    for _ in range(min(n, 100)):
        fn()
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - started) / n)
    return best * 1e6


def profile(fn, n: int) -> None:
    """Where one kind of request spends its time (cumulative, then own time)."""
    import cProfile
    import pstats

    for _ in range(min(n, 100)):
        fn()
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(n):
        fn()
    profiler.disable()
    profiler.dump_stats("/tmp/request_costs.prof")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_callees(
        r"registry.py.*wrapper|process_response|_record|notify|resolve_caller|scan_code|"
        r"show_code|reached_channels|full_dispatch_request|wsgi_app"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--database", default="bench_codes")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    p.add_argument("--requests", type=int, default=600, help="requests per round")
    p.add_argument(
        "--profile",
        choices=["code", "scan"],
        help="instead: cProfile N requests of this kind and print where the time goes",
    )
    args = p.parse_args()
    configure(args)

    from sqlalchemy import text

    from backend.extensions import db
    from backend.models import User
    from backend.services import codes
    from backend.token_store import get_token_store
    from bench import codes_data
    from bench.wsgi_bench import app
    from notifications.service import notify

    n = args.requests
    with app.app_context():
        actors = codes_data.actors(n_members=4, n_holders=200)
        holders, members = actors["holders"], actors["member_tokens"]
        db.session.remove()
    client = app.test_client()

    def requests_for(kind: str):
        now = codes.clock.now().timestamp()
        batch = []
        with app.app_context():
            for i in range(n * 6 + 200):
                user_id, cid, token = holders[i % len(holders)]
                if kind == "scan":
                    record = codes.CodeRecord(user_id, [cid], now, now + 300)
                    body = {"qr_content": codes.qr_content(codes.store_code(record, 300))}
                    body["purpose"] = "入住登记"
                    batch.append(("/api/mp/v1/scans", members[i % len(members)], body))
                else:
                    batch.append(("/api/mp/v1/codes", token, {"certificate_ids": [cid]}))
        return iter(batch)

    def hello():
        assert client.get("/bench/hello").status_code == 200

    def poster(batch):
        def post():
            path, token, body = next(batch)
            response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code in (200, 201), response.get_data(as_text=True)

        return post

    if args.profile:
        profile(poster(requests_for(args.profile)), n)
        return
    rows = [
        ("request: `GET /bench/hello`", best_cpu_us(hello, n)),
        ("request: `POST /codes`", best_cpu_us(poster(requests_for("code")), n)),
        ("request: `POST /scans`", best_cpu_us(poster(requests_for("scan")), n)),
    ]
    with app.test_request_context():
        store = get_token_store()
        store.set("bench:key", "1", 600)
        user_id = holders[0][0]
        raw_cursor = db.session.connection().connection.dbapi_connection.cursor()
        select_one = text("SELECT 1")

        def orm_account():
            db.session.get(User, user_id)
            db.session.expunge_all()

        def notify_one():
            notify(user_id, "certificate_used", "您的证照已被查验", "压测", "/usage-records")
            db.session.flush()

        ops = [
            ("token store round trip (Redis GET)", lambda: store.get("bench:key")),
            (
                "statement through the session (`SELECT 1`)",
                lambda: db.session.execute(select_one).scalar(),
            ),
            ("the same through the bare driver", lambda: raw_cursor.execute("SELECT 1").fetchone()),
            ("ORM load of one account by id", orm_account),
            ("one `notify` (no commit)", notify_one),
        ]
        for name, fn in ops:
            rows.append((name, best_cpu_us(fn, n * 3)))
        db.session.rollback()

        def session_cycle():
            db.session.execute(select_one)
            db.session.commit()
            db.session.remove()

        rows.append(
            ("session cycle: checkout, `SELECT 1`, commit, return", best_cpu_us(session_cycle, n))
        )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nCPU per call (best of 5 rounds), load average at the end: {load}\n")
    print("| what | CPU µs |\n| --- | --- |")
    for name, us in rows:
        print(f"| {name} | {us:,.0f} |")


if __name__ == "__main__":
    main()
