"""Interleaved A/B benchmark: two builds of the app, side by side, in alternating runs.

This machine's speed drifts by 20-50 % over minutes (other tenants), so two separate runs of
bench/codes.py cannot tell a 15 % change from noise. This script starts two gunicorns at
once (same settings as bench/codes.py: 2 sync workers, production config, the ``bench_codes``
database and real Redis) and drives them in turns, A B / B A / A B ..., so both sides see
the same machine:

    /work/venv/bin/python bench/codes.py                      # once: fills bench_codes
    /work/venv/bin/python bench/ab.py --b-python /usr/local/venv-other/bin/python
    git worktree add /tmp/base <commit>                       # or: two commits
    /work/venv/bin/python bench/ab.py --a-root /tmp/base

A side is an interpreter (``--a-python``/``--b-python``: a venv's python with the project's
requirements; gunicorn runs from the same venv) and a source tree (``--a-root``/``--b-root``),
served by 2 gunicorn workers of a class (``--a-worker-class``, ``--a-threads``; sync by default).
Both sides share the database and Redis, so their code record and token formats must agree.
Each round runs hello-world and ``POST /scans`` (fresh one-time codes per run) on each side;
``--codes`` adds ``POST /codes``. The table gives requests/s, p50/p99 and the whole machine's
CPU per request (from /proc/stat, the least noisy figure), each round and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import codes as bench_codes  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    for side in ("a", "b"):
        p.add_argument(f"--{side}-python", default=sys.executable, help="interpreter of a venv")
        p.add_argument(f"--{side}-root", default=str(ROOT), help="source tree")
        p.add_argument(f"--{side}-worker-class", default="sync", help="gunicorn worker class")
        p.add_argument(f"--{side}-threads", type=int, default=1, help="threads per worker")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--codes", action="store_true", help="also run POST /codes")
    p.add_argument("--port", type=int, default=8765, help="A's port; B's is the next one")
    args, rest = p.parse_known_args()
    shared = bench_codes.parse_args(rest)  # database, Redis, connections, wrk threads
    for key, value in vars(args).items():
        setattr(shared, key, value)
    return shared


def main() -> None:
    args = parse_args()
    env = bench_codes.configure_environment(args)
    import redis

    from backend import create_app
    from backend.extensions import db
    from bench import codes_data

    redis.Redis.from_url(args.redis_url).flushdb()
    app = create_app()
    work = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    with app.app_context():
        certificates = db.session.scalar(db.text("SELECT count(*) FROM certificates"))
        if certificates < 1000:
            raise SystemExit("bench_codes holds no certificates: run bench/codes.py first")
        db.session.execute(db.text("TRUNCATE usage_records, notifications CASCADE"))
        db.session.commit()
        actors = codes_data.actors(n_members=16, n_holders=2000)
    holders, members = actors["holders"], actors["member_tokens"]
    codes_data.dump_lines(work / "hello.txt", [("GET", "/bench/hello", "", None)] * 64)
    codes_data.dump_lines(
        work / "codes.txt",
        [("POST", "/api/mp/v1/codes", t, {"certificate_ids": [c]}) for _, c, t in holders],
    )

    def scans_file(name: str, count: int) -> Path:
        with app.app_context():
            return bench_codes.prepare_scans_file(work / name, holders, members, count)

    sides = {
        "A": (args.a_python, args.a_root, args.port, args.a_worker_class, args.a_threads),
        "B": (args.b_python, args.b_root, args.port + 1, args.b_worker_class, args.b_threads),
    }
    processes = {}
    try:
        for name, (python, root, port, worker_class, threads) in sides.items():
            log = open(work / f"gunicorn-{name}.log", "w")  # noqa: SIM115
            processes[name] = bench_codes.start_gunicorn(
                python, root, port, env, log, worker_class, threads
            )
        endpoints = ["hello", *(["codes"] if args.codes else []), "scans"]
        results: dict[str, dict[str, list[dict]]] = {s: {e: [] for e in endpoints} for s in sides}
        per_run = args.duration * 2500  # more codes than the fastest side can scan
        for name in sides:  # warm-up: every route through both workers
            args.port = sides[name][2]
            bench_codes.wrk(args, work / "hello.txt", 2)
            bench_codes.wrk(args, scans_file(f"warm-{name}.txt", 3000), 2)
        for round_no in range(1, args.rounds + 1):
            order = ["A", "B"] if round_no % 2 else ["B", "A"]
            files = {s: scans_file(f"scans-{s}-{round_no}.txt", per_run) for s in order}
            for name in order:
                args.port = sides[name][2]
                master = processes[name].pid
                for endpoint in endpoints:
                    path = files[name] if endpoint == "scans" else work / f"{endpoint}.txt"
                    result = bench_codes.wrk(args, path, args.duration, master)
                    results[name][endpoint].append(result)
                    print(f"round {round_no} {name} {endpoint}: {line(result)}", flush=True)
    finally:
        for process in processes.values():
            process.terminate()
            process.wait()
    report(results, sides, endpoints, args)


def line(r: dict) -> str:
    cpu = r["cpu_ms_per_request"]["machine"]
    return (
        f"{r['rps']:.0f} req/s, p50 {r['p50_us'] / 1000:.1f} ms, p99 {r['p99_us'] / 1000:.1f} ms,"
        f" machine CPU {cpu:.2f} ms/req, non-2xx {r['non_2xx_3xx']}"
    )


def report(results, sides, endpoints, args) -> None:
    for name in sides:
        python, root, _, worker_class, threads = sides[name]
        print(f"{name}: {python} on {root}, {worker_class} workers x {threads} threads")
    print(f"{args.rounds} rounds, {args.duration} s per run, {args.connections} connections\n")
    print(
        "| endpoint | side | req/s (each round) | median req/s | median p99 ms "
        "| median machine CPU ms/req | B vs A (requests per CPU) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for endpoint in endpoints:
        medians = {}
        for name in sides:
            runs = results[name][endpoint]
            rps = [r["rps"] for r in runs]
            cpu = statistics.median(r["cpu_ms_per_request"]["machine"] for r in runs)
            medians[name] = cpu
            p99 = statistics.median(r["p99_us"] for r in runs) / 1000
            change = f"{medians['A'] / cpu - 1:+.0%}" if name == "B" else ""
            print(
                f"| {endpoint} | {name} | {', '.join(f'{x:.0f}' for x in rps)} "
                f"| {statistics.median(rps):.0f} | {p99:.1f} | {cpu:.2f} | {change} |"
            )
    for name in sides:
        ratio = [
            s["rps"] / h["rps"]
            for s, h in zip(results[name]["scans"], results[name]["hello"], strict=True)
        ]
        print(f"\n{name}: scans as a share of the same round's hello-world: "
              + ", ".join(f"{x:.0%}" for x in ratio))  # fmt: skip


if __name__ == "__main__":
    main()
