"""A tiny external agent for tests (standard library only, run with the sandbox's Python).

It asks its model once through ANTHROPIC_BASE_URL, reporting in that request what it could reach
from inside the sandbox and which keys its environment holds (the test reads it off the server),
then fixes the tiny task itself and prints its final answer.

    python fake_agent.py MODEL [PROBE_PORT]
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
from pathlib import Path


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main(model: str, probe_port: int | None) -> int:
    base = os.environ["ANTHROPIC_BASE_URL"]
    seen = {
        "proxy": reachable("127.0.0.1", int(base.rsplit(":", 1)[1])),
        "other_loopback_port": reachable("127.0.0.1", probe_port) if probe_port else None,
        "outside": reachable("1.1.1.1", 80),
        "env": {k: v for k, v in os.environ.items() if "KEY" in k or "TOKEN" in k},
    }
    body = {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": json.dumps(seen)}]}
    req = urllib.request.Request(base + "/v1/messages", data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", "anthropic-version": "2023-06-01",
                                          "x-api-key": os.environ.get("ANTHROPIC_API_KEY", "")})
    with urllib.request.urlopen(req, timeout=30) as resp:
        reply = json.loads(resp.read())
    calc = Path("calc/__init__.py")
    calc.write_text(calc.read_text().replace("return a - b", "return a + b"))
    print("".join(b.get("text", "") for b in reply["content"] if b["type"] == "text"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None))
