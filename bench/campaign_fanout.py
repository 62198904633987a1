"""Campaign fan-out to 100,000 recipients, and the worker's delivery rate to fake WeChat.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_notify \
    REDIS_URL=redis://127.0.0.1:6379/2 /work/venv/bin/python bench/campaign_fanout.py

It DROPS AND RECREATES every table of DATABASE_URL and flushes the Redis database: point it at
a scratch database. Steps, each timed:

1. setup (not a target): 100,000 people with a WeChat account, a long-term subscription to
   the campaign template and a certificate of one type, written in bulk;
2. baseline: one raw bulk INSERT of 100,000 notification rows (what any fan-out must at
   least do), then removed;
3. fan-out: ``campaigns.create`` + ``fan_out`` (the worker job) — audience query, 100,000
   notifications, 100,000 inbox and 100,000 WeChat deliveries, subscriptions reserved,
   delivery jobs queued on Redis; target under 30 s;
4. delivery: ``--workers`` worker processes (``SimpleWorker``, as ``flask
   notifications-worker`` runs) send about ``--deliveries`` of the queued messages through
   the real wechatpy client to the fake WeChat server, which runs in a process of its own;
   reported as messages per second, for one worker and for ``--workers``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from rq import SimpleWorker  # noqa: E402
from sqlalchemy import delete, func, insert, select  # noqa: E402

from backend import clock, create_app  # noqa: E402
from backend.config import TestingConfig, normalise_database_url  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.models import Certificate, CertificateType, Department, Person, Role, User  # noqa: E402
from backend.security.crypto import get_cipher  # noqa: E402
from notifications import campaigns  # noqa: E402
from notifications.models import Delivery, Notification, WeChatSubscription  # noqa: E402
from notifications.queue import get_queue  # noqa: E402
from tests.fake_wechat import FakeWeChatServer, FakeWeChatState  # noqa: E402

CHUNK = 10_000


def serve_fake_wechat(urls, stop, delay_s: float) -> None:
    """The fake WeChat server in a process of its own, so it does not share our GIL."""
    server = FakeWeChatServer().start()
    server.state.send_delay_s = delay_s
    urls.put(server.url)
    stop.wait()
    server.stop()


def app_config(database_url: str, redis_url: str, wechat_url: str) -> dict:
    return {
        "CONFIG_CLASS": TestingConfig,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "WECHAT_API_BASE_URL": wechat_url,
        "WECHAT_APPID": FakeWeChatState.appid,
        "WECHAT_SECRET": FakeWeChatState.secret,
    }


def run_worker(config: dict, jobs: int) -> None:
    """One worker process: take ``jobs`` jobs off the queues, then stop."""
    app = create_app(config)
    with app.app_context():
        worker = SimpleWorker(
            [get_queue(), get_queue(bulk=True)], connection=get_queue().connection
        )
        worker.work(burst=True, max_jobs=jobs, logging_level="WARNING")
        db.session.remove()
        db.engine.dispose()


def sent_count() -> int:
    return db.session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.channel == "wechat", Delivery.state == "sent"
        )
    )


def measure_delivery(config: dict, workers: int, deliveries: int, label: str) -> float:
    jobs = max(1, deliveries // workers // config.get("NOTIFY_JOB_CHUNK", 100))
    before = sent_count()
    db.session.rollback()
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=run_worker, args=(config, jobs)) for _ in range(workers)]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - start
    sent = sent_count() - before
    rate = sent / elapsed
    print(f"delivery, {label}: {sent:,} in {elapsed:.2f} s = {rate:,.0f} messages/s")
    return rate


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<34} {elapsed:8.2f} s")
    return elapsed, result


def setup_holders(n: int) -> tuple[User, CertificateType]:
    department = Department(code="amr", name="市市场监督管理局")
    db.session.add(department)
    db.session.flush()
    officer = User(
        username="officer-bench",
        display_name="窗口",
        role=Role.DEPARTMENT_OFFICER.value,
        department_id=department.id,
    )
    cert_type = CertificateType(
        code="food_licence",
        name="食品经营许可证",
        kind="licence",
        holder_kind="person",
        department_id=department.id,
        fields=[],
    )
    db.session.add_all([officer, cert_type])
    db.session.flush()
    cipher = get_cipher()
    blob = cipher.encrypt_text("placeholder")
    now = clock.now()
    for start in range(0, n, CHUNK):
        rows = range(start, min(start + CHUNK, n))
        person_ids = db.session.scalars(
            insert(Person).returning(Person.id, sort_by_parameter_order=True),
            [
                {
                    "name": f"持证人{i}",
                    "id_number_cipher": blob,
                    "id_number_hash": f"{i:064d}",
                    "phone_cipher": blob,
                }
                for i in rows
            ],
        ).all()
        user_ids = db.session.scalars(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {
                    "display_name": f"持证人{pid}",
                    "role": "citizen",
                    "wechat_openid": f"openid-{pid}",
                    "person_id": pid,
                }
                for pid in person_ids
            ],
        ).all()
        db.session.execute(
            insert(Certificate),
            [
                {
                    "serial": f"AMR-{pid}",
                    "type_id": cert_type.id,
                    "department_id": department.id,
                    "holder_person_id": pid,
                    "payload_cipher": b"x",
                    "payload_digest": "0" * 64,
                    "issued_on": date(2024, 1, 1),
                    "electronic_issued_at": now,
                }
                for pid in person_ids
            ],
        )
        db.session.execute(
            insert(WeChatSubscription),
            [
                {"user_id": uid, "template_id": "department_notice", "long_term": True}
                for uid in user_ids
            ],
        )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # A live database has planner statistics; freshly bulk-loaded tables do not yet.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return officer, cert_type


def baseline_insert(user_ids: list[int]) -> None:
    now = clock.now()
    rows = [
        {"user_id": uid, "category": "campaign", "title": "基线", "body": "基线", "created_at": now}
        for uid in user_ids
    ]
    db.session.execute(insert(Notification.__table__), rows)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=5_000, help="sent per rate measured")
    parser.add_argument("--workers", type=int, default=2, help="worker processes, second run")
    parser.add_argument("--latency-ms", type=int, default=50, help="delay of the slow fake")
    parser.add_argument("--slow-deliveries", type=int, default=1_000)
    args = parser.parse_args()
    database_url = normalise_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test_notify")
    )
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/2")
    spawn = multiprocessing.get_context("spawn")
    urls, stop = spawn.Queue(), spawn.Event()
    fakes = [
        spawn.Process(target=serve_fake_wechat, args=(urls, stop, delay))
        for delay in (0.0, args.latency_ms / 1000)
    ]
    fast_url = slow_url = None
    for fake in fakes:
        fake.start()
        if fast_url is None:
            fast_url = urls.get(timeout=30)
        else:
            slow_url = urls.get(timeout=30)
    config = app_config(database_url, redis_url, fast_url)
    app = create_app(config)
    print(f"database {database_url.split('@')[-1]}, redis {redis_url}, {os.cpu_count()} cores")
    print(
        f"batch {app.config['CAMPAIGN_BATCH_SIZE']} recipients, fan-out rate cap "
        f"{app.config['CAMPAIGN_FANOUT_RATE_PER_S']}/s, {app.config['NOTIFY_JOB_CHUNK']} "
        "deliveries per job"
    )
    try:
        with app.app_context():
            db.drop_all()
            db.create_all()
            redis.Redis.from_url(redis_url).flushdb()
            _, (officer, cert_type) = timed(
                f"setup: {args.recipients:,} holders", lambda: setup_holders(args.recipients)
            )
            user_ids = list(db.session.scalars(select(User.id).where(User.person_id.is_not(None))))

            base_s, _ = timed(
                "baseline: raw INSERT of notifications", lambda: baseline_insert(user_ids)
            )
            db.session.execute(delete(Notification))
            db.session.commit()

            def fan_out():
                campaign = campaigns.create(
                    officer,
                    {
                        "title": "年度报告提醒",
                        "body": "请于6月30日前完成年度报告。",
                        "audience": {
                            "kind": "certificate_type_holders",
                            "certificate_type": cert_type.code,
                        },
                    },
                )
                campaigns.fan_out(campaign.id)
                return campaign.id

            fan_s, campaign_id = timed("fan-out: rows written, jobs queued", fan_out)
            print(f"  deliveries written: {campaigns.delivery_counts(campaign_id)}")
            print(f"  jobs queued: {get_queue(bulk=True).count:,} (100 deliveries each)")
            print(f"  fan-out / baseline: {fan_s / base_s:.1f}x; under 30 s: {fan_s < 30}")
            print(f"  fan-out throughput: {args.recipients / fan_s:,.0f} recipients/s")
            db.session.rollback()

            threads = app.config["NOTIFY_SEND_THREADS"]
            one = measure_delivery(config, 1, args.deliveries, f"1 worker x {threads} threads")
            if args.workers > 1:
                label = f"{args.workers} workers x {threads} threads"
                many = measure_delivery(config, args.workers, args.deliveries, label)
                print(f"  {args.workers} workers / 1 worker: {many / one:.2f}x")
            print(f"fake WeChat answering after {args.latency_ms} ms:")
            slow = dict(config, WECHAT_API_BASE_URL=slow_url)
            serial = measure_delivery(
                dict(slow, NOTIFY_SEND_THREADS=1), 1, args.slow_deliveries, "1 worker x 1 thread"
            )
            threaded = measure_delivery(
                slow, 1, args.slow_deliveries, f"1 worker x {threads} threads"
            )
            print(f"  {threads} threads / 1 thread: {threaded / serial:.1f}x")
            db.session.remove()
            db.drop_all()
            redis.Redis.from_url(redis_url).flushdb()
    finally:
        stop.set()
        for fake in fakes:
            fake.join()


if __name__ == "__main__":
    main()
