"""Fetch throughput against the politeness bound, on 20 local hosts with injected latency.

Each host is a LocalServer (tests/http_fixtures.py) on its own loopback address (127.0.0.2 to
127.0.0.21) serving robots.txt and its articles, every answer delayed by --latency. The fetcher
may not start two requests to one host closer than per_host_delay, so no schedule can finish
before the bound `max over hosts of (articles x per_host_delay)`; the ratio wall / bound shows
how much the fetcher loses on top of politeness (robots.txt, latency, scheduling). Goal: <= 1.3.

    python benchmarks/fetch_bench.py [--articles 200] [--hosts 20] [--latency 0.05]
                                     [--delays 1.0,0.5,0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from http_fixtures import LocalServer, Response, html_page, with_latency  # noqa: E402

from pipeline.config import Settings  # noqa: E402
from pipeline.fetch import Fetcher  # noqa: E402

PAGE = "<html><head><title>Story {n}</title></head><body><article><p>{text}</p></article></body>"
TEXT = "Bitcoin traded near $60,000 as open interest fell and liquidations mounted. " * 40


def start_hosts(hosts: int, per_host: int, latency: float) -> list[LocalServer]:
    servers = []
    for index in range(hosts):
        server = LocalServer(host=f"127.0.0.{index + 2}")
        robots = Response(200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")
        server.route("/robots.txt", with_latency(robots, latency))
        for n in range(per_host):
            page = html_page(PAGE.format(n=n, text=TEXT))
            server.route(f"/story/{n}", with_latency(page, latency))
        servers.append(server.start())
    return servers


async def fetch_everything(urls: list[str], settings: Settings) -> tuple[float, int]:
    async with Fetcher(settings) as fetcher:
        started = time.perf_counter()
        results = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
        wall = time.perf_counter() - started
    return wall, sum(result.ok for result in results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--delays", default="1.0,0.5,0.2", help="per_host_delay values to try")
    args = parser.parse_args(argv)
    per_host = args.articles // args.hosts
    servers = start_hosts(args.hosts, per_host, args.latency)
    try:
        # Interleave hosts, as entries from many feeds arrive.
        urls = [server.url(f"/story/{n}") for n in range(per_host) for server in servers]
        print(f"{len(urls)} articles on {args.hosts} hosts, {args.latency * 1000:.0f} ms latency")
        print(f"{'per_host_delay':>14} {'bound s':>8} {'wall s':>8} {'ratio':>6} {'ok':>5}")
        for delay in (float(value) for value in args.delays.split(",")):
            settings = Settings(allow_private_hosts=True, per_host_delay=delay)
            bound = per_host * delay
            wall, ok = asyncio.run(fetch_everything(urls, settings))
            print(f"{delay:>14.2f} {bound:>8.2f} {wall:>8.2f} {wall / bound:>6.2f} {ok:>5}")
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
