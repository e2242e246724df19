"""What the recording proxy adds to a model call: per-call latency and time to the first streamed byte.

A loopback Anthropic server (tests/fakes, streaming) answers every call; the same client calls it
directly (the baseline) and through the recording proxy (recording each call into a real SQLite
store, priced), alternating call by call so both see the same machine load. A third path adds the
in-sandbox relay (TCP -> the proxy's Unix socket), the whole way an external agent's calls take.

- per call: a streamed reply read to its end; overhead = median(proxy) - median(direct).
- first byte: the server sends message_start, waits `--gap-ms`, then the rest; time to the first
  byte through the proxy minus direct, and the first byte must come long before the end.
Targets: < 5 ms added per call, first byte through within 10 ms.

    python benchmarks/bench_proxy.py [--calls 200] [--gap-ms 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "bench_proxy.md"
CALL_TARGET_MS, FIRST_BYTE_TARGET_MS = 5.0, 10.0
BODY = {"model": "claude-opus-4-7", "max_tokens": 100, "stream": True,
        "messages": [{"role": "user", "content": "Say something short. " * 200}]}


def one_call(client: httpx.Client, url: str) -> tuple[float, float]:
    """(seconds to the first byte, seconds to the end) of one streamed call."""
    t0 = time.perf_counter()
    first = 0.0
    with client.stream("POST", url + "/v1/messages", json=BODY, headers={"x-api-key": "k"}) as r:
        for _chunk in r.iter_raw():
            if not first:
                first = time.perf_counter() - t0
    return first, time.perf_counter() - t0


def measure(paths: dict[str, str], calls: int) -> dict[str, list[tuple[float, float]]]:
    clients = {name: httpx.Client(timeout=30) for name in paths}
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    for name, url in paths.items():  # warm-up: connections, imports, the store's first write
        for _ in range(5):
            one_call(clients[name], url)
    for _ in range(calls):
        for name, url in paths.items():
            out[name].append(one_call(clients[name], url))
    return out


def start_relay(sock: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    relay = ROOT / "src" / "orchbench" / "proxy" / "relay.py"
    proc = subprocess.Popen([sys.executable, str(relay), str(sock), str(port), "--", "sleep", "3600"],
                            start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--gap-ms", type=float, default=200.0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    from orchbench.pricing import load_rate_card
    from orchbench.proxy import RecordingProxy, StoreSink, WireRecorder
    from orchbench.records import Trial
    from orchbench.store import Store
    from tests.fakes._http import text
    from tests.fakes.streaming import StreamingAnthropic

    with tempfile.TemporaryDirectory() as tmp, StreamingAnthropic(policy=lambda v: text("A short answer."),
                                                                  min_cacheable=1024) as server:
        db, sock = Path(tmp) / "bench.db", Path(tmp) / "proxy.sock"
        with Store(db) as store:
            store.start_trial(Trial(id="bench", arm="bench", task="bench", status="running"))
        recorder = WireRecorder("bench", {"claude-opus-4-7": "orchestrator"}, sink=StoreSink(db),
                                pricer=load_rate_card(None))
        with RecordingProxy({"anthropic": server.root_url}, recorder, unix_path=sock) as proxy:
            relay, relay_url = start_relay(sock)
            try:
                paths = {"direct": server.root_url, "proxy": proxy.url, "relay+proxy": relay_url}
                whole = measure(paths, args.calls)
                server.gap_s = args.gap_ms / 1000
                gapped = measure(paths, max(args.calls // 10, 10))

            finally:
                os.killpg(relay.pid, 15)
                relay.wait()
        with Store(db, readonly=True) as store:
            stored = len(store.calls("bench"))
    write_report(args, whole, gapped, stored)


def ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def write_report(args: argparse.Namespace, whole: dict[str, list[tuple[float, float]]],
                 gapped: dict[str, list[tuple[float, float]]], stored: int) -> None:
    direct_end = ms([e for _, e in whole["direct"]])
    direct_first = ms([f for f, _ in gapped["direct"]])
    lines = [
        "# bench_proxy: what the recording proxy adds to a model call",
        "",
        "What: streamed Messages calls to a loopback Anthropic server (tests/fakes), through the recording",
        "proxy (each call parsed, priced and written to a SQLite store) and through the in-sandbox relay",
        "plus the proxy. Baseline, same run: the same client calling the server directly, alternating",
        "call by call. Medians. The server sends each event at once (TCP_NODELAY, as streaming servers do;",
        "with Nagle's algorithm on, its small writes meet delayed ACKs and every path waits ~40 ms).",
        "",
        f"- calls: {args.calls} per path (+5 warm-up); {stored} calls stored by the proxy",
        f"- direct, whole call: {direct_end:.2f} ms",
    ]
    ok = True
    for name in ("proxy", "relay+proxy"):
        end = ms([e for _, e in whole[name]])
        first = ms([f for f, _ in gapped[name]])
        last = ms([e for _, e in gapped[name]])
        added, first_added = end - direct_end, first - direct_first
        if name == "proxy":
            ok = added < CALL_TARGET_MS and first_added < FIRST_BYTE_TARGET_MS
        lines += [
            (f"- {name}, whole call: {end:.2f} ms: +{added:.2f} ms per call, ratio {end / direct_end:.2f}x "
             f"(target < {CALL_TARGET_MS:g} ms)"),
            (f"- {name}, first byte with a {args.gap_ms:g} ms pause after it: {first:.2f} ms vs {direct_first:.2f} "
             f"ms direct: +{first_added:.2f} ms (target < {FIRST_BYTE_TARGET_MS:g} ms); the reply's end at "
             f"{last:.1f} ms (the first byte is not held back)"),
        ]
    lines += [
        f"- verdict: {'OK' if ok else 'MISSED'} (proxy alone; the relay line shows the whole in-sandbox path)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
        + f" (other work shares the cores); {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Command: `python benchmarks/bench_proxy.py --calls {args.calls} --gap-ms {args.gap_ms:g}`",
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
