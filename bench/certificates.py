"""Benchmark of the certificate library, with the raw Ed25519 sign rate as the baseline.

Measures, in one run on one machine:
  0. the raw Ed25519 sign rate over canonical certificate payloads (the signer's library, PyNaCl);
  a. issuing certificates one by one through the service layer
     (``certificate_issuing.issue_certificate``: validation, holder look-up and creation,
     serial allocation, encryption, sealing, one committed transaction per certificate),
     with one caller and with two and four concurrent callers (worker processes);
  b. importing a generated CSV through ``flask import-certificates`` (checking every row,
     bulk holder creation, block serials, sealing, encryption, multi-row inserts), then
     importing the same file again (every row found already imported).

It works in a throwaway PostgreSQL schema (dropped afterwards) or a temporary SQLite file:

    PYTHONPATH=. /work/venv/bin/python bench/certificates.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/test_certs \\
        --redis-url redis://127.0.0.1:6379/3 --issue 10000 --import-rows 100000
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import platform
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import create_app  # noqa: E402
from backend.config import TestingConfig, normalise_database_url  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.security.checksums import make_id_number  # noqa: E402

SCHEMA = "bench_certificates"
IMPORT_TYPE = "id_card"
ISSUE_TYPE = "social_security_card"


def log(message: str) -> None:
    print(message, flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def build_app(database_url: str, redis_url: str | None, async_commit: bool = False):
    url = normalise_database_url(database_url)
    cleanup = lambda: None  # noqa: E731
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))

        def cleanup():
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            engine.dispose()

        options = f"-csearch_path%3D{SCHEMA}"
        if async_commit:  # for comparison only: the application never does this for issuing
            options += "%20-csynchronous_commit%3Doff"
        url += ("&" if "?" in url else "?") + f"options={options}"
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="bench-certs-"))
    app = create_app(
        {
            "CONFIG_CLASS": TestingConfig,
            "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": redis_url,
        }
    )
    return app, cleanup


def id_number(n: int) -> str:
    """Distinct valid ID numbers: one birthday per thousand sequence numbers."""
    return make_id_number("330106", date(1950, 1, 1) + timedelta(days=n // 1000), n % 1000)


def bench_raw_signing(count: int) -> float:
    from backend.services import seals
    from backend.services.signers import get_signer

    signer = get_signer("ed25519")
    private, _ = signer.generate()
    messages = [
        seals.canonical_json(
            {
                "serial": f"PSB-001-2026-{n:07d}-X",
                "type": IMPORT_TYPE,
                "issuer": "psb",
                "holder": {"kind": "person", "id": id_number(n), "name": "王小明"},
                "fields": {"姓名": "王小明", "公民身份号码": id_number(n), "住址": "杭州市" * 8},
                "issued_on": "2024-01-01",
                "expires_on": "2044-01-01",
                "version": 1,
                "sealed_by": ["psb"],
            }
        )
        for n in range(count)
    ]
    started = time.perf_counter()
    for message in messages:
        signer.sign(private, message)
    return count / (time.perf_counter() - started)


def bench_raw_commits(app, count: int = 1000) -> float:
    """Single-row INSERT + COMMIT per transaction on a real table: the database's ceiling
    for anything that commits once per certificate."""
    with app.app_context():
        with db.engine.connect() as conn:
            conn.execute(text("CREATE TABLE bench_commit_probe (x INTEGER)"))
            conn.commit()
            started = time.perf_counter()
            for n in range(count):
                conn.execute(text("INSERT INTO bench_commit_probe VALUES (:n)"), {"n": n})
                conn.commit()
            rate = count / (time.perf_counter() - started)
            conn.execute(text("DROP TABLE bench_commit_probe"))
            conn.commit()
        db.session.remove()
    return rate


def bench_raw_commits_parallel(app, count: int = 2000, connections: int = 2) -> float:
    """The same from ``connections`` threads at once (psycopg waits without the GIL): the
    ceiling for that many workers, with PostgreSQL able to flush their commits together."""
    import threading

    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE bench_commit_probe (x INTEGER)"))
            conn.commit()

        def run(n_rows: int) -> None:
            with engine.connect() as conn:
                for n in range(n_rows):
                    conn.execute(text("INSERT INTO bench_commit_probe VALUES (:n)"), {"n": n})
                    conn.commit()

        threads = [
            threading.Thread(target=run, args=(count // connections,)) for _ in range(connections)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rate = count / (time.perf_counter() - started)
        with engine.connect() as conn:
            conn.execute(text("DROP TABLE bench_commit_probe"))
            conn.commit()
        db.session.remove()
    return rate


def _issue_requests(start: int, stop: int) -> list[tuple[int, str]]:
    """Each certificate's sequence number and holder ID number, made before the clock starts."""
    return [(n, id_number(5_000_000 + n)) for n in range(start, stop)]


def _issue_range(app, requests: list[tuple[int, str]]) -> None:
    from backend.services.certificate_issuing import issue_certificate

    with app.app_context():
        try:
            for n, number in requests:
                issue_certificate(
                    officer=None,
                    cert_type=ISSUE_TYPE,
                    holder={"name": "王小明", "id_number": number},
                    fields={
                        "姓名": "王小明",
                        "公民身份号码": number,
                        "社会保障号码": number,
                        "卡号": f"A{n:09d}",
                        "发卡日期": "2024-01-01",
                    },
                    issued_on="2024-01-01",
                )
                db.session.expunge_all()  # each call as if it were its own request
        finally:
            db.session.remove()


def _issuing_worker(url, redis_url, start, stop, barrier, out) -> None:
    """One worker process (like one gunicorn worker): its own app and connections."""
    app = create_app(
        {
            "CONFIG_CLASS": TestingConfig,
            "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": redis_url,
        }
    )
    requests = _issue_requests(start, stop)
    barrier.wait()
    began, cpu = time.time(), time.process_time()
    _issue_range(app, requests)
    out.put((began, time.time(), time.process_time() - cpu))
    with app.app_context():
        db.engine.dispose()


def _backend_cpu_s(app) -> float:
    """CPU seconds used so far by this database's PostgreSQL backends (same host, /proc)."""
    with app.app_context():
        pids = db.session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
        db.session.remove()
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def bench_issuing(app, count: int, workers: int, offset: int) -> float:
    """Certificates per second, one transaction each, from ``workers`` processes at once."""
    if workers == 1:
        requests = _issue_requests(offset, offset + count)
        postgres = (
            _backend_cpu_s(app)
            if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres")
            else 0.0
        )
        cpu, started = time.process_time(), time.perf_counter()
        _issue_range(app, requests)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if postgres:
            postgres = _backend_cpu_s(app) - postgres
        per = 1e3 / count
        log(
            f"   per certificate: {cpu * per:.3f} ms CPU in this process, "
            f"{postgres * per:.3f} ms in PostgreSQL backends, {elapsed * per:.3f} ms wall"
        )
        return count / elapsed
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(workers), context.Queue()
    per = count // workers
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    processes = [
        context.Process(
            target=_issuing_worker,
            args=(
                url,
                app.config.get("REDIS_URL"),
                offset + i * per,
                offset + (i + 1) * per,
                barrier,
                out,
            ),
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    spans = [out.get() for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"an issuing worker failed (exit code {process.exitcode})")
    elapsed = max(end for _, end, _ in spans) - min(begin for begin, _, _ in spans)
    ms = 1e3 / (per * workers)
    log(
        f"   per certificate: {sum(cpu for _, _, cpu in spans) * ms:.3f} ms CPU in the "
        f"{workers} processes"
    )
    return per * workers / elapsed


def write_csv(path: Path, rows: int) -> None:
    header = [
        "paper_serial",
        "holder_name",
        "holder_id",
        "issued_on",
        "姓名",
        "性别",
        "民族",
        "出生日期",
        "住址",
        "公民身份号码",
        "签发机关",
        "有效期限",
    ]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for n in range(rows):
            number = id_number(n)
            born = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
            writer.writerow(
                [
                    f"PAPER-{n:08d}",
                    "王小明",
                    number,
                    "2016-05-10",
                    "王小明",
                    "男" if int(number[16]) % 2 else "女",
                    "汉",
                    born,
                    f"浙江省杭州市西湖区文三路{n % 400}号",
                    number,
                    "市公安局西湖分局",
                    "2016-05-10至2036-05-10",
                ]
            )


def bench_import(app, path: Path) -> tuple[float, str]:
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["import-certificates", str(path), "--type", IMPORT_TYPE])
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(result.output[-2000:])
    summary = re.search(r"import \d+: [^\n\r]*", result.output)
    return elapsed, summary.group(0) if summary else result.output[-300:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "sqlite://"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--issue", type=int, default=10_000, help="0 skips issuing")
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--sign", type=int, default=20_000)
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="PostgreSQL sessions with synchronous_commit=off (not durable; comparison only)",
    )
    args = parser.parse_args()

    python = platform.python_version()
    log(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {python}")
    log(f"load average at start: {load()}")
    app, cleanup = build_app(args.database_url, args.redis_url, args.async_commit)
    if args.async_commit:
        log("synchronous_commit=off for this run: commits do not wait for the WAL flush")
    try:
        with app.app_context():
            db.create_all()
            from backend.services.seed import run_seed

            run_seed(["departments", "certificate types", "seal keys"], echo=lambda _: None)
            log(f"database: {db.engine.dialect.name} {db.engine.dialect.server_version_info}")
            db.session.remove()

        sign_rate = bench_raw_signing(args.sign)
        log(f"0. raw Ed25519 sign rate: {sign_rate:,.0f} signatures/s")

        if args.issue:
            commits = bench_raw_commits(app)
            log(f"   raw single-row INSERT + COMMIT rate (SQLAlchemy Core): {commits:,.0f}/s")
            commits2 = bench_raw_commits_parallel(app)
            log(f"   the same from 2 connections at once: {commits2:,.0f}/s")
            commits4 = bench_raw_commits_parallel(app, 4000, 4)
            log(f"   the same from 4 connections at once: {commits4:,.0f}/s")
            one = bench_issuing(app, args.issue, 1, 0)
            log(
                f"a. issue {args.issue:,} one by one, 1 process: {one:,.0f} certificates/s "
                f"({one / sign_rate:.3f} of the raw sign rate, "
                f"{one / commits:.2f} of the commit rate)"
            )
            for workers, ceiling in ((2, commits2), (4, commits4)):
                rate = bench_issuing(app, args.issue, workers, args.issue * (workers - 1))
                log(
                    f"   issue {args.issue:,} one by one, {workers} processes: "
                    f"{rate:,.0f} certificates/s ({rate / sign_rate:.3f} of the raw sign rate, "
                    f"{rate / ceiling:.2f} of the {workers}-connection commit rate)"
                )

        if args.import_rows:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "history.csv"
                write_csv(path, args.import_rows)
                size = path.stat().st_size / 1024 / 1024
                elapsed, summary = bench_import(app, path)
                rate = args.import_rows / elapsed
                log(
                    f"b. import {args.import_rows:,} rows ({size:.1f} MiB): {elapsed:.1f} s, "
                    f"{rate:,.0f} rows/s ({rate / sign_rate:.3f} of the raw sign rate)"
                )
                log(f"   {summary}")
                again, summary = bench_import(app, path)
                log(f"   the same file again: {again:.1f} s; {summary}")
        with app.app_context():
            from backend.models import Certificate

            total = db.session.scalar(select(func.count(Certificate.id)))
            log(f"certificates stored: {total:,}")
            db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        cleanup()
    log(f"load average at end: {load()}")


if __name__ == "__main__":
    main()
