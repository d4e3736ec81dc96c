"""Benchmark 1: a download through the panel vs. straight from the sandbox, and the SDK's."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import requests

from bench.harness import PYTHON, ROOT, Panel, Sandbox, peak_rss_kib

MB = 1000 * 1000
SIZES = {"1 MB": 1 * MB, "100 MB": 100 * MB, "1 GB": 1000 * MB}
RUNS = {"1 MB": 9, "100 MB": 5, "1 GB": 3}
LINK_MBPS = 800  # a 1 Gbit/s link's usable rate, for the network-bound comparison
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
    result = subprocess.run(
        [PYTHON, "-c", SDK_SCRIPT, box.token, box.base_url, box.org_id, asset_id, str(size)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(box: Sandbox, site: Panel) -> list[dict[str, Any]]:
    session = site.login()
    direct = requests.Session()
    api_headers = {
        "Authorization": f"Bearer {box.token}",
        "Accept": "application/json",
        "X-Tallyfy-Client": "APIClient",
    }
    warm = box.add_file(1 * MB)
    timed_download(
        session, f"{site.url}/admin/tallyfy-files/{site.org_pk}/{warm}/download/", MB, {}
    )
    baseline = {pid: peak_rss_kib(pid) for pid in site.worker_pids()}
    rows: list[dict[str, Any]] = []
    for label, size in SIZES.items():
        asset_id = box.add_file(size)
        panel_url = f"{site.url}/admin/tallyfy-files/{site.org_pk}/{asset_id}/download/"
        direct_url = f"{box.base_url}/organizations/{box.org_id}/file/{asset_id}/dl"
        panel_times, direct_times = [], []
        for _ in range(RUNS[label]):  # interleaved, so both see the same machine
            direct_times.append(timed_download(direct, direct_url, size, api_headers))
            panel_times.append(timed_download(session, panel_url, size, {}))
        growth_mib = (
            max(peak_rss_kib(pid) - baseline.get(pid, 0) for pid in site.worker_pids()) / 1024
        )
        sdk_runs = [sdk_download(box, asset_id, size) for _ in range(min(RUNS[label], 3))]
        panel_s, direct_s = _median(panel_times), _median(direct_times)
        sdk_s = _median([r["seconds"] for r in sdk_runs])
        rows.append(
            {
                "figure": f"download {label}: throughput, panel vs direct",
                "ours": f"{size / panel_s / MB:.0f} MB/s",
                "reference": f"{size / direct_s / MB:.0f} MB/s",
                "ratio": round(direct_s / panel_s, 3),
                "target": ">= 0.9",
                "met": direct_s / panel_s >= 0.9,
            }
        )
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
    rows += _over_a_link(box, site, session, direct, api_headers)
    return rows


def _over_a_link(
    box: Sandbox,
    site: Panel,
    session: requests.Session,
    direct: requests.Session,
    api_headers: dict[str, str],
) -> list[dict[str, Any]]:
    """The same comparison with the sandbox paced to a real link: the network sets the pace."""
    rows = []
    box.control("faults", {"bandwidth_mbps": LINK_MBPS})
    try:
        for label, size in SIZES.items():
            asset_id = box.add_file(size)
            panel_url = f"{site.url}/admin/tallyfy-files/{site.org_pk}/{asset_id}/download/"
            direct_url = f"{box.base_url}/organizations/{box.org_id}/file/{asset_id}/dl"
            panel_times, direct_times = [], []
            for _ in range(min(RUNS[label], 3)):
                direct_times.append(timed_download(direct, direct_url, size, api_headers))
                panel_times.append(timed_download(session, panel_url, size, {}))
            panel_s, direct_s = _median(panel_times), _median(direct_times)
            rows.append(
                {
                    "figure": f"download {label} over a {LINK_MBPS} Mbit/s link: panel vs direct",
                    "ours": f"{size / panel_s / MB:.0f} MB/s",
                    "reference": f"{size / direct_s / MB:.0f} MB/s",
                    "ratio": round(direct_s / panel_s, 3),
                    "target": ">= 0.9",
                    "met": direct_s / panel_s >= 0.9,
                }
            )
    finally:
        box.control("reset", {})
    return rows


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
