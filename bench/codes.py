"""Benchmark: code creation and scans under gunicorn against a hello-world baseline.

    apt-get install -y wrk        # the load generator (Debian package)
    /work/venv/bin/python bench/codes.py            # or: .venv/bin/python bench/codes.py

What it does, in one run:
1. creates the PostgreSQL database ``bench_codes`` if missing, migrates it, and fills it with
   >= 100,000 sealed certificates (bench/codes_data.py; kept between runs);
2. starts gunicorn with 2 sync workers on the production config, real Redis (db 4 by default,
   flushed at start) and that database, serving the app plus ``/bench/hello``;
3. drives it from wrk (bench/codes.lua) on loopback, 32 connections: hello-world, then
   ``POST /codes``, then hello-world again and ``POST /scans`` with one-time codes prepared
   beforehand (each endpoint is compared with the hello-world run just before it: the
   machine's speed drifts);
4. keeps scanning until 101,000 scans are recorded and compares each worker's resident
   memory after the first 1,000 scans with its size at the end;
5. measures offline-code verification (the trust-list-only library function) against raw
   Ed25519 verification in this process, and ``POST /offline-codes/verify`` over HTTP.

Rate limits are raised for the run (a handful of bench accounts make all the requests);
they are still checked, in Redis, on every request. Results: a Markdown table on stdout,
raw figures in the run's temporary folder. CPU per request is read from /proc for the
gunicorn workers (and, less precisely on a shared machine, for postgres and redis).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_KEY = "YmVuY2gtb25seS1kYXRhLWVuY3J5cHRpb24ta2V5ISE="  # 32 bytes; bench data only
HIGH_LIMIT = "100000000/minute"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--database", default="bench_codes")
    p.add_argument(
        "--database-socket",
        default="/var/run/postgresql" if Path("/var/run/postgresql").is_dir() else "",
        help="the app reaches PostgreSQL through this Unix socket directory, as a server on "
        "the same machine should be reached ('' for TCP at the admin URL's host)",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--duration", type=int, default=20, help="seconds per measured wrk run")
    p.add_argument("--certificates", type=int, default=100_000)
    p.add_argument("--total-scans", type=int, default=101_000)
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    p.add_argument("--worker-threads", type=int, default=1, help="threads per gthread worker")
    return p.parse_args(argv)


def configure_environment(args: argparse.Namespace) -> dict[str, str]:
    """Production settings for the app, in this process and in gunicorn's."""
    base = args.pg_admin_url.rsplit("/", 1)[0]
    database_url = f"{base}/{args.database}"
    if args.database_socket:
        user = base.split("//", 1)[1].split("@", 1)[0]
        database_url = f"postgresql://{user}@/{args.database}?host={args.database_socket}"
    env = {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": "bench-secret-key",
        "WECHAT_PUSH_TOKEN": "bench-push-token",
        "DATA_ENCRYPTION_KEY": BENCH_KEY,
        "WEB_CONCURRENCY": "2",
        "TRUST_PROXY": "0",
        "SESSION_COOKIE_SECURE": "0",
        "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-codes-"),
        "RATE_LIMIT_SCANS": HIGH_LIMIT,
        "RATE_LIMIT_CODES": HIGH_LIMIT,
        "RATE_LIMIT_OFFLINE_CODES": HIGH_LIMIT,
        "RATE_LIMIT_OFFLINE_VERIFY": HIGH_LIMIT,
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    return dict(os.environ)


def wrk(args, lines_file: Path, duration: int, master_pid: int | None = None) -> dict:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(ROOT / "bench" / "codes.lua"),
        f"http://127.0.0.1:{args.port}",
        "--",
        str(lines_file),
        str(args.threads),
    ]
    before = cpu_snapshot(master_pid) if master_pid else None
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[0]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^WRK_JSON (.*)$", out, re.M)
    if not match:
        raise RuntimeError("wrk printed no summary:\n" + out)
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    with open("/proc/loadavg") as f:
        result["load_1min"] = [float(load_before), float(f.read().split()[0])]
    if before is not None:
        after = cpu_snapshot(master_pid)
        result["cpu_ms_per_request"] = {
            k: (after[k] - before[k]) * 1000 / max(1, result["requests"]) for k in after
        }
    return result


def _cpu_seconds(pid: str) -> tuple[float, float]:
    """User and system CPU seconds of a process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_snapshot(master_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn workers, all postgres and redis processes.

    The machine may be shared: postgres and redis figures include anyone else's load, and
    so does ``machine`` (every process, from /proc/stat: what the request cost the machine,
    wrk included, which is the least noisy figure for comparing two runs)."""
    workers = set(Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split())
    totals = {"app": 0.0, "app_system": 0.0, "postgres": 0.0, "redis": 0.0}
    jiffies = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = jiffies[3] + jiffies[4]  # idle and iowait
    totals["machine"] = (sum(jiffies[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if pid in workers:
                user, system = _cpu_seconds(pid)
                totals["app"] += user + system
                totals["app_system"] += system  # the kernel's part: sockets, scheduling
            elif comm.startswith("postgres"):
                totals["postgres"] += sum(_cpu_seconds(pid))
            elif comm.startswith("redis-server"):
                totals["redis"] += sum(_cpu_seconds(pid))
        except OSError:  # a process that ended meanwhile
            continue
    return totals


def worker_rss_kib(master_pid: int) -> dict[int, int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    rss = {}
    for pid in map(int, children):
        status = Path(f"/proc/{pid}/status").read_text()
        rss[pid] = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
    return rss


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not come up")


def start_gunicorn(
    python: str, root: Path | str, port: int, env: dict, log, worker_class="sync", threads=1
) -> subprocess.Popen:
    """The bench's gunicorn (2 workers, ``bench.wsgi_bench:app``) from ``python``'s venv
    on source tree ``root``, answering on ``port`` when this returns."""
    process = subprocess.Popen(
        [
            str(Path(python).parent / "gunicorn"),
            "-w", "2", "-k", worker_class, "--threads", str(threads),
            "-b", f"127.0.0.1:{port}",
            "--log-level", "warning", "bench.wsgi_bench:app",
        ],
        cwd=root, env={**env, "PYTHONPATH": str(root)}, stdout=log, stderr=log,
    )  # fmt: skip
    wait_for(port)
    return process


def prepare_scans_file(path: Path, holders, members, count: int, ttl: int = 900) -> Path:
    """``count`` scans of fresh one-time codes (stored in Redis now, live for ``ttl``
    seconds), one per line for bench/codes.lua; needs an app context."""
    from backend.services import codes
    from bench import codes_data

    now = codes.clock.now().timestamp()
    lines = []
    for i in range(count):
        user_id, cid, _ = holders[i % len(holders)]
        token = codes.store_code(codes.CodeRecord(user_id, [cid], now, now + ttl), ttl)
        body = {"qr_content": codes.qr_content(token), "purpose": "入住登记"}
        lines.append(("POST", "/api/mp/v1/scans", members[i % len(members)], body))
    codes_data.dump_lines(path, lines)
    return path


def offline_rates(app, holder_user_id: int, certificate_id: int, rounds: int = 5) -> dict:
    """Library verification of one offline code vs raw Ed25519 verify (PyNaCl, the library
    the signer uses), same key and size."""
    from nacl.signing import VerifyKey

    from backend.extensions import db
    from backend.models import User
    from backend.services import seals
    from backend.services.offline_codes import issue_offline_code
    from backend.services.offline_verifier import TrustList, unb64url, verify_offline_code

    with app.test_request_context():
        user = db.session.get(User, holder_user_id)
        code = issue_offline_code(user, certificate_id, ["姓名", "公民身份号码"])["code"]
        trust = TrustList(json.loads(json.dumps(seals.trust_list())))
    prefix, payload, signature = code.split(".")
    message, sig = f"{prefix}.{payload}".encode(), unb64url(signature)
    key = trust.keys[json.loads(unb64url(payload))["k"]]
    public = VerifyKey(key.public_key)
    n = 20_000
    raw_best = lib_best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            public.verify(message, sig)
        raw_best = max(raw_best, n / (time.perf_counter() - start))
        start = time.perf_counter()
        for _ in range(n):
            verify_offline_code(code, trust)
        lib_best = max(lib_best, n / (time.perf_counter() - start))
    return {"code": code, "code_length": len(code), "raw_per_s": raw_best, "lib_per_s": lib_best}


def main() -> None:
    args = parse_args()
    env = configure_environment(args)
    import redis

    from backend import create_app
    from backend.extensions import db
    from backend.models import UsageRecord
    from bench import codes_data

    codes_data.ensure_database(args.pg_admin_url, args.database)
    redis.Redis.from_url(args.redis_url).flushdb()
    app = create_app()
    work = Path(tempfile.mkdtemp(prefix="bench-codes-wrk-"))
    with app.app_context():
        from flask_migrate import upgrade
        from sqlalchemy import func, select

        upgrade()
        started = time.perf_counter()
        codes_data.populate(args.certificates)
        # Planner statistics for the filled tables, as autovacuum keeps them in production
        # (this machine's PostgreSQL runs with autovacuum off); the tables the run fills
        # are emptied afterwards, so their size is read, not taken from stale statistics.
        db.session.commit()
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(db.text("ANALYZE"))
        db.session.execute(db.text("TRUNCATE usage_records, notifications CASCADE"))
        db.session.commit()
        print(f"data ready in {time.perf_counter() - started:.0f} s")
        certificate_count = db.session.scalar(
            select(func.count()).select_from(db.metadata.tables["certificates"])
        )
        actors = codes_data.actors(n_members=16, n_holders=2000)
        holders, members = actors["holders"], actors["member_tokens"]
        codes_data.dump_lines(work / "hello.txt", [("GET", "/bench/hello", "", None)] * 64)
        codes_data.dump_lines(
            work / "codes.txt",
            [
                ("POST", "/api/mp/v1/codes", token, {"certificate_ids": [cid]})
                for _, cid, token in holders
            ],
        )

        def prepare_scans(count: int, name: str) -> Path:
            return prepare_scans_file(work / name, holders, members, count)

        def scans_done() -> int:
            db.session.rollback()
            return db.session.scalar(select(func.count(func.distinct(UsageRecord.scan_id))))

        log = open(work / "gunicorn.log", "w")  # noqa: SIM115
        gunicorn = start_gunicorn(
            sys.executable, ROOT, args.port, env, log, args.worker_class, args.worker_threads
        )
        try:
            results: dict = {"certificates": certificate_count}
            # Warm-up: every route once through both workers, then exactly 1,000 scans.
            wrk(args, work / "hello.txt", 3)
            wrk(args, work / "codes.txt", 3)
            warm = prepare_scans(1000, "warm.txt")
            for line in warm.read_text().splitlines():
                method, path, token, body = line.split("\t")
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                conn = http.client.HTTPConnection("127.0.0.1", args.port)
                conn.request(method, path, body.encode(), headers)
                assert conn.getresponse().status == 200
                conn.close()
            results["rss_after_1000_kib"] = worker_rss_kib(gunicorn.pid)

            master = gunicorn.pid
            results["hello"] = wrk(args, work / "hello.txt", args.duration, master)
            results["codes"] = wrk(args, work / "codes.txt", args.duration, master)
            budget = int(results["hello"]["rps"] * args.duration * 1.2) + 1000
            scans_file = prepare_scans(budget, "scans.txt")
            # The machine's speed drifts: scans are compared with a hello-world run just before.
            results["hello_before_scans"] = wrk(args, work / "hello.txt", args.duration, master)
            results["scans"] = wrk(args, scans_file, args.duration, master)
            extra = []
            while (done := scans_done()) < args.total_scans:
                rate = results["scans"]["rps"]
                batch = min(args.total_scans - done, int(rate * 60))
                seconds = max(2, int(batch / rate * 0.95))
                extra.append(wrk(args, prepare_scans(batch + 500, "more.txt"), seconds))
            results["scans_total"] = scans_done()
            results["extra_scan_runs"] = extra
            results["rss_after_all_kib"] = worker_rss_kib(gunicorn.pid)
            offline = offline_rates(app, holders[0][0], holders[0][1])
            codes_data.dump_lines(
                work / "offline.txt",
                [("POST", "/api/mp/v1/offline-codes/verify", "", {"code": offline["code"]})] * 64,
            )
            results["offline_http"] = wrk(
                args, work / "offline.txt", min(10, args.duration), gunicorn.pid
            )
            results["offline"] = offline
        finally:
            gunicorn.terminate()
            gunicorn.wait()
            log.close()
    report(results, args)
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    transport = f"Unix socket {args.database_socket}" if args.database_socket else "TCP"
    print(f"\nthe app reached PostgreSQL through: {transport}; Redis: {args.redis_url}")
    print(f"raw results: {work / 'results.json'}")


def report(r: dict, args) -> None:
    def row(name, w, target="", baseline="hello"):
        cpu, base = w["cpu_ms_per_request"], r[baseline]
        hello_cpu = base["cpu_ms_per_request"]
        return (
            f"| {name} | {w['rps']:.0f} | {w['p50_us'] / 1000:.1f} | {w['p99_us'] / 1000:.1f} "
            f"| {w['rps'] / base['rps']:.0%} | {target} | {w['non_2xx_3xx']} "
            f"| {cpu['machine']:.2f} | {hello_cpu['machine'] / cpu['machine']:.0%} "
            f"| {cpu['app']:.2f} | {cpu['app_system']:.2f} "
            f"| {cpu['postgres']:.2f} | {cpu['redis']:.2f} | {w['load_1min'][0]:.1f} |"
        )

    before, after = r["rss_after_1000_kib"], r["rss_after_all_kib"]
    off = r["offline"]
    lines = [
        f"certificates in the database: {r['certificates']}; scans recorded: {r['scans_total']}",
        "",
        f"| endpoint ({args.connections} connections, {args.duration} s) | req/s | p50 ms "
        "| p99 ms | of hello-world (the run before) | target | non-2xx | machine CPU ms/req "
        "| hello machine CPU / this | app CPU ms/req | of which kernel | postgres CPU ms/req "
        "| redis CPU ms/req | load (1 min) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        row("`GET /bench/hello` (baseline)", r["hello"]),
        row("`POST /codes`", r["codes"], ">= 40 %"),
        row("`GET /bench/hello` (again, just before scans)", r["hello_before_scans"]),
        row("`POST /scans`", r["scans"], ">= 30 %, p99 < 40 ms", "hello_before_scans"),
        row("`POST /offline-codes/verify` (HTTP, info)", r["offline_http"]),
        "",
        f"offline verification (library, trust list only): {off['lib_per_s']:.0f}/s vs raw "
        f"Ed25519 verify {off['raw_per_s']:.0f}/s = {off['lib_per_s'] / off['raw_per_s']:.0%} "
        f"(target >= 70 %); code length {off['code_length']} characters",
        "",
        "| worker | RSS after 1,000 scans (KiB) | after all scans (KiB) | growth |",
        "| --- | --- | --- | --- |",
    ]
    for pid, kib in before.items():
        end = after.get(pid)
        growth = f"{(end - kib) / kib:+.1%}" if end else "worker replaced"
        lines.append(f"| {pid} | {kib} | {end} | {growth} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
