"""Benchmark 1: a download through the panel vs. straight from the sandbox, and the SDK's."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.harness import Panel, Sandbox, peak_rss_kib, python_json, relay

MB = 1000 * 1000
SIZES = {"1 MB": 1 * MB, "100 MB": 100 * MB, "1 GB": 1000 * MB}
RUNS = {"1 MB": 9, "100 MB": 5, "1 GB": 3}
LINK_MBPS = 800  # a 1 Gbit/s link's usable rate, for the network-bound comparison
WAN_LATENCY_MS = 50  # as in the deletion and load benchmarks
CHUNK = 1024 * 1024

SDK_SCRIPT = """
import json, resource, sys, time
from tallyfy import TallyfySDK
sdk = TallyfySDK(api_key=sys.argv[1], base_url=sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
body = sdk.download_file(sys.argv[3], sys.argv[4], max_bytes=4 * 1024 ** 3)
elapsed = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert len(body) == int(sys.argv[5])
print(json.dumps({"seconds": elapsed, "rss_growth_mib": (after - before) / 1024}))
"""


def timed_download(
    session: requests.Session, url: str, size: int, headers: dict[str, str]
) -> float:
    started = time.perf_counter()
    received = 0
    with session.get(url, headers=headers, stream=True, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(CHUNK):
            received += len(chunk)
    elapsed = time.perf_counter() - started
    if received != size:
        raise RuntimeError(f"{url}: got {received} of {size} bytes")
    return elapsed


def sdk_download(box: Sandbox, asset_id: str, size: int) -> dict[str, float]:
    return python_json(
        "-c", SDK_SCRIPT, box.token, box.base_url, box.org_id, asset_id, str(size), timeout=900
    )


@dataclass(frozen=True)
class Timings:
    """Median seconds for one file by each route."""

    panel: float
    direct: float
    relay: float | None


@dataclass
class Route:
    """The ways to one sandbox: through the panel, straight with the API headers, and
    through a bare TCP relay (a reference: it only copies bytes)."""

    box: Sandbox
    site: Panel
    relay_port: int
    panel: requests.Session
    direct: requests.Session = field(default_factory=requests.Session)

    def compare(self, asset_id: str, size: int, runs: int, *, via_relay: bool = True) -> Timings:
        """Each route `runs` times, interleaved so all see the same machine."""
        panel_url = f"{self.site.url}/admin/tallyfy-files/{self.site.org_pk}/{asset_id}/download/"
        path = f"/api/organizations/{self.box.org_id}/file/{asset_id}/dl"
        direct_url = f"http://127.0.0.1:{self.box.port}{path}"
        relay_url = f"http://127.0.0.1:{self.relay_port}{path}"
        headers = {
            "Authorization": f"Bearer {self.box.token}",
            "Accept": "application/json",
            "X-Tallyfy-Client": "APIClient",
        }
        panel_times, direct_times, relay_times = [], [], []
        for _ in range(runs):
            direct_times.append(timed_download(self.direct, direct_url, size, headers))
            if via_relay:
                relay_times.append(timed_download(self.direct, relay_url, size, headers))
            panel_times.append(timed_download(self.panel, panel_url, size, {}))
        relay_s = statistics.median(relay_times) if via_relay else None
        return Timings(statistics.median(panel_times), statistics.median(direct_times), relay_s)


def throughput_row(
    figure: str, size: int, ours_s: float, reference_s: float, *, target: float | None = 0.9
) -> dict[str, Any]:
    ratio = reference_s / ours_s
    return {
        "figure": figure,
        "ours": f"{size / ours_s / MB:.0f} MB/s",
        "reference": f"{size / reference_s / MB:.0f} MB/s",
        "ratio": round(ratio, 3),
        "target": "" if target is None else f">= {target}",
        "met": None if target is None else ratio >= target,
    }


def run(box: Sandbox, site: Panel) -> list[dict[str, Any]]:
    with relay(box) as relay_port:
        route = Route(box, site, relay_port, site.login())
        route.compare(box.add_file(MB), MB, 1)  # warm-up
        return _on_loopback(route) + _over_a_link(route)


def _on_loopback(route: Route) -> list[dict[str, Any]]:
    """No network at all: only the machine's copying is measured, and the panel's memory."""
    box, site = route.box, route.site
    baseline = {pid: peak_rss_kib(pid) for pid in site.worker_pids()}
    rows: list[dict[str, Any]] = []
    for label, size in SIZES.items():
        asset_id = box.add_file(size)
        timings = route.compare(asset_id, size, RUNS[label])
        assert timings.relay is not None
        rows.append(
            throughput_row(
                f"download {label} on loopback: panel vs direct",
                size,
                timings.panel,
                timings.direct,
            )
        )
        rows.append(
            throughput_row(
                f"download {label} on loopback: bare TCP relay vs direct",
                size,
                timings.relay,
                timings.direct,
                target=None,
            )
        )
        rows.append(
            throughput_row(
                f"download {label} on loopback: panel vs bare TCP relay",
                size,
                timings.panel,
                timings.relay,
                target=None,
            )
        )
        growth_mib = max(peak_rss_kib(pid) - baseline.get(pid, 0) for pid in site.worker_pids())
        growth_mib /= 1024
        sdk_runs = [sdk_download(box, asset_id, size) for _ in range(min(RUNS[label], 3))]
        sdk_s = statistics.median([r["seconds"] for r in sdk_runs])
        rows.append(
            {
                "figure": f"download {label}: peak memory growth, panel vs SDK download_file",
                "ours": f"{growth_mib:.1f} MiB",
                "reference": f"{max(r['rss_growth_mib'] for r in sdk_runs):.0f} MiB "
                f"(SDK, {size / sdk_s / MB:.0f} MB/s)",
                "ratio": None,
                "target": "< 50 MiB",
                "met": growth_mib < 50,
            }
        )
    return rows


def _over_a_link(route: Route) -> list[dict[str, Any]]:
    """The same comparison with the sandbox paced to a real link: the network sets the pace.

    First a link with bandwidth and no latency at all (a LAN), then, for the small file
    where it matters, the same link with the 50 ms a request the other benchmarks use.
    """
    links = [
        (f"{LINK_MBPS} Mbit/s link", {"bandwidth_mbps": LINK_MBPS}, SIZES),
        (
            f"{LINK_MBPS} Mbit/s link, +{WAN_LATENCY_MS} ms a request",
            {"bandwidth_mbps": LINK_MBPS, "latency_ms": WAN_LATENCY_MS},
            {"1 MB": SIZES["1 MB"]},
        ),
    ]
    rows = []
    try:
        for link, faults, sizes in links:
            route.box.control("faults", faults)
            for label, size in sizes.items():
                runs = RUNS[label] if size <= MB else min(RUNS[label], 3)
                asset_id = route.box.add_file(size)
                timings = route.compare(asset_id, size, runs, via_relay=False)
                rows.append(
                    throughput_row(
                        f"download {label} over a {link}: panel vs direct",
                        size,
                        timings.panel,
                        timings.direct,
                    )
                )
            route.box.control("reset", {})
    finally:
        route.box.control("reset", {})
    return rows
