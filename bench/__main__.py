"""`make bench` / `python -m bench`: print the figures and write bench/results/latest.{json,md}.

Every figure comes from real gunicorn (gunicorn.conf.py) and a real PostgreSQL
(a throwaway cluster), with the load generator in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import requests
import sqlalchemy as sa

from bench import cpu, local_aws, paired
from testkit import pgcluster  # the same throwaway cluster the tests use
from testkit.ports import free_port
from testkit.servers import wait_until
from testkit.statements import recorded
from testkit.wire import round_trips

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def flask(url: str, *args: str) -> float:
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "bench", "DATABASE_URL": url, "FLASK_APP": "board"}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def split_cpus() -> tuple[set[int], set[int]] | None:
    """CPUs for gunicorn, and CPUs for everything else (PostgreSQL, the latency proxy, the load generator).

    On EB the database (RDS) and the clients are other machines: splitting the
    CPUs keeps their work off the app's, as there. None with a single CPU.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None
    return set(cpus[:len(cpus) // 2]), set(cpus[len(cpus) // 2:])


@contextmanager
def gunicorn(url: str, app: str = "board:create_app()", extra: tuple = (), cpus: set[int] | None = None,
             **environ: str):
    port = free_port()
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "bench", "DATABASE_URL": url, "PORT": str(port),
           "POSTS_PER_PAGE": "20", **environ}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                                "--access-logfile", "/dev/null", *extra, app], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    base = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"bench: gunicorn did not start ({app} {' '.join(extra)})")
        return requests.get(base + "/healthz", timeout=5).ok

    try:
        wait_until(serving, 60, f"gunicorn ({app}) to serve /healthz")
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def load(url: str, seconds: float, connections: int = 16, server_pid: int | None = None,
         database_pid: int | None = None) -> dict:
    """The load generator's figures, plus the CPU per request of the server and the database when given."""
    requests.get(url, timeout=10)  # warm
    watched = {name: pid for name, pid in (("app_cpu_ms", server_pid), ("db_cpu_ms", database_pid))
               if pid and cpu.available()}
    before = {name: cpu.tree_seconds(pid) for name, pid in watched.items()}
    out = subprocess.run([sys.executable, "-m", "bench.load", url, "--duration", str(seconds), "--connections",
                          str(connections)], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    for name, pid in watched.items():
        result[name] = round((cpu.tree_seconds(pid) - before[name]) * 1000 / max(result["requests"], 1), 3)
    return result


def seed_settings(app_cpus: set[int] | None) -> tuple[str, ...]:
    """The seed's gunicorn: sync workers = cpu_count(). On EB that counts the CPUs the app has, so
    here it is the CPUs gunicorn is given, one sync worker each."""
    workers = len(app_cpus) if app_cpus else os.cpu_count() or 1
    return "--worker-class", "sync", "--workers", str(workers), "--threads", "1"


def round_trip_ms(url: str) -> float:
    """The median `SELECT 1` round trip to a database, as the app sees it (through SQLAlchemy)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:  # the latency proxy may still be starting
        with wait_until(engine.connect, 10, "the database to accept connections",
                        ignoring=(sa.exc.OperationalError,)) as conn:
            return timed(lambda: conn.execute(sa.text("SELECT 1")).all(), runs=200)
    finally:
        engine.dispose()


@contextmanager
def database_far_away(url: str, delay_ms: float):
    """The same database behind bench.latency_proxy: `delay_ms` more each way, as RDS is from EB."""
    near = sa.engine.make_url(url)
    port = free_port()
    proxy = subprocess.Popen([sys.executable, "-m", "bench.latency_proxy", "--listen", str(port), "--to",
                              f"{near.host}:{near.port}", "--delay-ms", str(delay_ms)], cwd=ROOT)
    try:
        far = near.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        yield far, round_trip_ms(far)
    finally:
        proxy.terminate()
        proxy.wait(10)


def p1(url: str, database_pid: int, seconds: float, rounds: int, delay_ms: float, app_cpus: set[int] | None) -> dict:
    say(f"P1: throughput of the index and the API (10,000 posts, 20 a page), {rounds} interleaved rounds")
    with database_far_away(url, delay_ms) as (far, far_round_trip_ms), ExitStack() as servers:
        seed = {"extra": seed_settings(app_cpus)}
        # name: (database, gunicorn arguments, path); the pairs compared are run back to back.
        scenarios = {
            "index": (url, {}, "/"),
            "index_from_memory": (url, {"app": "bench.apps:memory_app()"}, "/bench/index-from-memory"),
            "index_seed_settings": (url, seed, "/"),
            "index_db_far": (far, {}, "/"),
            "index_db_far_seed_settings": (far, seed, "/"),
            "api": (url, {}, "/api/posts?limit=20"),
            "trivial": (url, {}, "/healthz"),
        }
        targets = {}
        for name, (database, arguments, path) in scenarios.items():
            base, pid = servers.enter_context(gunicorn(database, cpus=app_cpus, **arguments))
            targets[name] = (base + path, pid)
        for target, _ in targets.values():  # every worker compiles its templates and warms up before the clock
            load(target, 1)
        # Every scenario once per round, so a slow spell on a shared machine hits them all alike, in the
        # reverse order every other round, so no scenario always follows the same one.
        runs: dict[str, list[dict]] = {name: [] for name in targets}
        for round_number in range(1, rounds + 1):
            order = list(targets.items())
            for name, (target, pid) in order if round_number % 2 else reversed(order):
                runs[name].append(load(target, seconds, server_pid=pid, database_pid=database_pid))
            say(f"  round {round_number}/{rounds}, req/s: "
                + ", ".join(f"{name} {done[-1]['rps']:.0f}" for name, done in runs.items()))
    results = {}
    for name, done in runs.items():
        results[name] = sorted(done, key=lambda r: r["rps"])[len(done) // 2]
        for figure in ("app_cpu_ms", "db_cpu_ms"):  # their own medians: steadier than the median run's
            if figure in results[name]:
                results[name][figure] = round(statistics.median(r[figure] for r in done), 3)
    results["rounds"] = rounds
    results["db_round_trip_far_ms"] = far_round_trip_ms
    results["db_round_trip_near_ms"] = round_trip_ms(url)

    def per_round(top: str, bottom: str) -> dict:
        return paired.ratio([r["rps"] for r in runs[top]], [r["rps"] for r in runs[bottom]])

    kept = per_round("index", "index_from_memory")  # the share of the page left when the database is taken out
    results["db_share_of_index"] = {"median": round(1 - kept["median"], 3), "low": round(1 - kept["high"], 3),
                                    "high": round(1 - kept["low"], 3)}
    results["index_vs_seed_settings"] = per_round("index", "index_seed_settings")
    results["index_vs_seed_settings_db_far"] = per_round("index_db_far", "index_db_far_seed_settings")
    results["queries_per_index_page"], results["round_trips_per_index_page"] = index_page_costs(url)
    index, memory = results["index"], results["index_from_memory"]
    if "db_cpu_ms" in index:
        page_cpu = index["app_cpu_ms"] + index["db_cpu_ms"]
        results["index_cpu"] = {"db_share": round(1 - memory["app_cpu_ms"] / page_cpu, 3),
                                "postgresql_share": round(index["db_cpu_ms"] / page_cpu, 3),
                                "app_side_of_db_ms": round(index["app_cpu_ms"] - memory["app_cpu_ms"], 3)}
    return results


def index_page_costs(url: str) -> tuple[int, int]:
    """The queries the index page sends, and its round trips to the database (the pool's ping included)."""
    from board import create_app, reads
    from board.extensions import db

    with round_trips(url) as (through, wire):
        app = create_app({"POSTS_PER_PAGE": 20}, {"APP_ENV": "test", "DATABASE_URL": through})
        client = app.test_client()
        client.get("/")  # a new connection first logs in and asks the server about itself
        with app.app_context():
            engine = reads.engines().primary
        with recorded(engine) as statements, wire.counting() as counted:
            client.get("/")
        with app.app_context():
            engine.dispose()
            db.engine.dispose()
    return len(statements), counted[0]


def timed(call, runs: int = 15) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 2)


def p2(url: str, depth: int) -> dict:
    say(f"P2: first page against a page {depth:,} posts deep (keyset), and OFFSET at that depth")
    from board.pagination import Cursor

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        total = conn.scalar(sa.text("SELECT count(*) FROM posts"))
        at, post_id = conn.execute(sa.text("SELECT created_at, id FROM posts ORDER BY created_at DESC, id DESC "
                                           "OFFSET :n LIMIT 1"), {"n": min(depth, total - 21)}).one()
        offset_sql = sa.text("SELECT posts.*, authors.name FROM posts JOIN authors ON authors.id = posts.author_id "
                             "ORDER BY posts.created_at DESC, posts.id DESC OFFSET :n LIMIT 21")
        offset_ms = timed(lambda: conn.execute(offset_sql, {"n": min(depth, total - 21)}).all(), runs=5)
    engine.dispose()
    cursor = Cursor(at, post_id).encode()
    with gunicorn(url) as (base, _), requests.Session() as http:
        first_ms = timed(lambda: http.get(base + "/", timeout=30).raise_for_status())
        deep_ms = timed(lambda: http.get(base + f"/?before={cursor}", timeout=30).raise_for_status())
    return {"posts": total, "depth": depth, "first_page_ms": first_ms, "deep_page_ms": deep_ms,
            "offset_query_at_depth_ms": offset_ms}


def docker_figures() -> dict:
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode:
        return {"skipped": "no Docker engine"}
    say("image: cold build, code-only rebuild, size over the base image")
    tag = "board-bench:latest"

    def build(*flags: str) -> float:
        started = time.monotonic()
        subprocess.run(["docker", "build", "--quiet", *flags, "--tag", tag, str(ROOT)], check=True,
                       capture_output=True)
        return round(time.monotonic() - started, 1)

    cold = build("--no-cache")
    marker = ROOT / "board" / "_bench_touch.py"
    marker.write_text("# touched by make bench\n")
    try:
        code_only = build()
    finally:
        marker.unlink()
    size = int(subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", tag], capture_output=True,
                              text=True, check=True).stdout)
    base = int(subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", "python:3.12-slim"],
                              capture_output=True, text=True, check=True).stdout)
    subprocess.run(["docker", "rmi", "--force", tag], capture_output=True)
    return {"cold_build_s": cold, "code_only_rebuild_s": code_only, "rebuild_ratio": round(code_only / cold, 3),
            "image_over_base_mb": round((size - base) / 1e6, 1)}


def cpu_split(p1r: dict) -> str:
    if "index_cpu" not in p1r:
        return ""
    split = p1r["index_cpu"]
    return (f" Counted in CPU time, the database takes {split['db_share']:.0%} of the index page: PostgreSQL's "
            f"own work is {split['postgresql_share']:.0%}, and the app's side of it (the pool's checkout and "
            f"ping, SQLAlchemy and the driver, rows, threads taking turns at the GIL) "
            f"{split['app_side_of_db_ms']} ms a request.")


def placement(results: dict) -> str:
    total = int(results["machine"].split()[0])
    if not results.get("app_cpus"):
        return f"gunicorn, PostgreSQL and the load generator share the {total} CPU(s)"
    app = results["app_cpus"]
    return (f"gunicorn has {app} of the {total} CPUs to itself, and PostgreSQL, the latency proxy and the load "
            "generator share the rest, as on EB, where RDS and the clients are other machines")


def times(ratio: dict) -> str:
    return f"{ratio['median']:.2f}× ({ratio['low']:.2f}× to {ratio['high']:.2f}× over the rounds)"


def markdown(results: dict) -> str:
    p1r, p2r = results["p1"], results["p2"]
    share = p1r["db_share_of_index"]
    rows = [("index page, production settings", p1r["index"]), ("/api/posts?limit=20", p1r["api"]),
            ("trivial response (stack ceiling)", p1r["trivial"]),
            ("index rendered from memory (no DB)", p1r["index_from_memory"]),
            ("index, seed settings (one sync worker per CPU gunicorn has)", p1r["index_seed_settings"]),
            (f"index, database {p1r['db_round_trip_far_ms']} ms away", p1r["index_db_far"]),
            (f"index, seed settings, database {p1r['db_round_trip_far_ms']} ms away",
             p1r["index_db_far_seed_settings"])]
    lines = [f"Measured {results['when']} on {results['machine']} with `make bench`.", "",
             "| P1 (10,000 posts, 20 a page) | req/s | p50 ms | p99 ms | errors | CPU ms a request: gunicorn "
             "| PostgreSQL |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {name} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} | {r.get('app_cpu_ms', '–')} "
              f"| {r.get('db_cpu_ms', '–')} |" for name, r in rows]
    lines += ["", f"Each row is the median of {p1r['rounds']} interleaved rounds, and each ratio below the median of "
              f"its per-round ratios; {placement(results)}. "
              f"\"{p1r['db_round_trip_far_ms']} ms away\" is the measured `SELECT 1` "
              "round trip through bench/latency_proxy.py "
              f"({p1r['db_round_trip_near_ms']} ms direct; RDS is a network hop from EB).", "",
              f"- Database share of the index page: {share['median']:.0%}, {share['low']:.0%} to {share['high']:.0%} "
              f"over the rounds; {p1r['queries_per_index_page']} query and "
              f"{p1r.get('round_trips_per_index_page', '?')} round trips to the database per page." + cpu_split(p1r),
              f"- Production settings vs the seed's: {times(p1r['index_vs_seed_settings'])} with the database "
              f"{p1r['db_round_trip_near_ms']} ms away, {times(p1r['index_vs_seed_settings_db_far'])} with it "
              f"{p1r['db_round_trip_far_ms']} ms away (target ≥ 1.5×).",
              f"- P2, {p2r['posts']:,} posts: first page {p2r['first_page_ms']} ms, a page {p2r['depth']:,} deep "
              f"{p2r['deep_page_ms']} ms (keyset); OFFSET at that depth: {p2r['offset_query_at_depth_ms']} ms "
              "for the query alone.",
              f"- P6: a no-op `flask db upgrade`: {results['p6_noop_upgrade_s']} s.",
              f"- Seeding {results['seed']['posts']:,} posts: {results['seed']['seconds']} s."]
    image = results["image"]
    if "skipped" not in image:
        lines.append(f"- Image: cold build {image['cold_build_s']} s, code-only rebuild {image['code_only_rebuild_s']}"
                     f" s ({image['rebuild_ratio']:.0%}), {image['image_over_base_mb']} MB over python:3.12-slim.")
    if "watch" in results:
        from bench.watch_times import line

        lines.append(line(results["watch"]))
    deploy = results["deploy"]
    lines.append(f"- Deploy: the bundle is {deploy['bundle_kb']} KiB, built in {deploy['bundle_build_ms']} ms; against "
                 f"the same local AWS, `python -m deploy release` took {deploy['deploy_release_s']} s and `eb deploy` "
                 f"{deploy['eb_deploy_s']} s.")
    if "gate" in results:
        from bench.gate_times import line as gate_line

        lines.append(gate_line(results["gate"]))
    if "local_eb" in results:
        local = results["local_eb"]
        lines.append(f"- P7: release of a code change to a local EB environment (`localeb`, one instance, the repo's "
                     f"deployment policy, every platform step, nginx, the load balancer's health checks): "
                     f"{local['local_release_s']} s from start to the new version served, in "
                     f"{local['local_batches']} batches; floor (cached image build and a bare container start) "
                     f"{local['local_floor_s']} s a batch: {times(local['local_vs_floor'])} (target <= 3x).")
        if "local_vs_floor_without_migration" in local:
            lines.append(f"  Of that, the predeploy migration hook on every instance (the repo's own step, which the "
                         f"floor does not hold) took {local['local_migration_s']} s; without it "
                         f"{times(local['local_vs_floor_without_migration'])}.")
        if local.get("local_steps"):
            slowest = sorted(local["local_steps"], key=lambda step: -step[1])[:6]
            lines.append("  Where the release's time went (largest parts): "
                         + "; ".join(f"{step} {took} s" for step, took in slowest) + ".")
    if "cold" in results.get("by_image", {}):
        from bench.deploy_times import by_image_line

        lines.append(by_image_line(results["by_image"]))
    if "rollouts" in results:
        from bench.rollouts import line

        lines.append(line(results["rollouts"]))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short rounds: this VM speeds up and slows down over seconds, and a median of 9 pairs steadies.
    parser.add_argument("--seconds", type=float, default=2.0, help="load per scenario and round (default 2)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds of P1, median kept (default 9)")
    parser.add_argument("--db-delay-ms", type=float, default=0.25,
                        help="added each way for the 'database far away' rows (default 0.25)")
    parser.add_argument("--depth", type=int, default=1_000_000, help="posts for the depth figure (default 1M)")
    parser.add_argument("--no-docker", action="store_true", help="skip the image figures")
    parser.add_argument("--p1-only", action="store_true",
                        help="only P1, printed as JSON; bench/results/ is left as it is (for A/B runs of a change)")
    args = parser.parse_args()
    placement = split_cpus()
    if placement:  # this process's children (PostgreSQL, the proxy, the load generator) inherit it
        os.sched_setaffinity(0, placement[1])
    cluster = pgcluster.create_cluster()
    try:
        admin = sa.create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE bench"))
        admin.dispose()
        url = cluster.url.rsplit("/", 1)[0] + "/bench"
        flask(url, "db", "upgrade")
        results = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                   "machine": f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}",
                   "app_cpus": len(placement[0]) if placement else None}
        say("seeding 10,000 posts")
        flask(url, "seed", "--authors", "100", "--posts", "10000")
        results["p1"] = p1(url, cluster.pid, args.seconds, args.rounds, args.db_delay_ms,
                           placement[0] if placement else None)
        if args.p1_only:
            print(json.dumps(results, indent=2))
            return
        say(f"seeding up to {args.depth:,} posts")
        results["seed"] = {"posts": args.depth - 10_000,
                           "seconds": round(flask(url, "seed", "--authors", "1000", "--posts",
                                                  str(max(args.depth - 10_000, 0))), 1)}
        results["p2"] = p2(url, args.depth)
        results["p6_noop_upgrade_s"] = round(statistics.median(flask(url, "db", "upgrade") for _ in range(3)), 2)
        results["image"] = {"skipped": "--no-docker"} if args.no_docker else docker_figures()
        if not args.no_docker and "skipped" not in results["image"]:
            say("watch: a static file, a template and a .py file saved → new response, under docker compose watch")
            from bench.watch_times import watch_figures

            results["watch"] = watch_figures()
        say("deploy: bundle, python -m deploy release against eb deploy on a local AWS")
        from bench.deploy_times import deploy_figures

        results["deploy"] = deploy_figures()
        say("gate: the serving version against the new migrations, warm cache")
        from bench.gate_times import gate_figures

        results["gate"] = gate_figures()
        if not args.no_docker and "skipped" not in results["image"]:
            say("deploy: release of a code change to a local EB instance, against its floor")
            from bench.deploy_times import local_release_figures

            results["local_eb"] = local_release_figures()
            say("deploy: per-instance deploy time on local EB instances that start cold, by image against by "
                "source bundle")
            from bench.deploy_times import image_release_figures

            results["by_image"] = image_release_figures()
            say("deploys under load: two local EB instances, four clients, (a) to (d)")
            from bench.rollouts import rollout_figures

            results["rollouts"] = rollout_figures()
    finally:
        local_aws.stop()
        cluster.remove()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (RESULTS / "latest.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
