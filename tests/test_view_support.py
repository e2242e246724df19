"""Support for the viewer's tests (holds no tests; named test_view_* to stay in the viewer's files).

- `paper_store` / `transcript_store`: the two stores the API and browser tests browse.
- `Browser`: a small Chrome DevTools Protocol driver for Debian's chromium, headless. Clicks are
  real mouse events at the element's centre, so they go through the page's own handling.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
import tempfile
import time
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAPER_DIR = Path(str(resources.files("orchbench") / "data" / "paper"))
TRANSCRIPT_EXPERIMENT = "recorded"
# (trial id, arm, task, status, orchestrator turns, orchestrated)
RECORDED = [
    ("rec-B-T1-0", "B", "T1", "success", 12, True),
    ("rec-B-T1-1", "B", "T1", "failure", 9, True),
    ("rec-B-T1-2", "B", "T1", "success", 14, True),
    ("rec-A-T1-0", "A", "T1", "success", 8, False),
    ("rec-A-T1-1", "A", "T1", "success", 10, False),
    ("rec-A-T2-0", "A", "T2", "blocked", 5, False),
]
RUNNING_ID = "rec-C-T1-running"


def paper_store(path: Path) -> Path:
    """The paper's 41 lines imported into a fresh store."""
    from orchbench.paperformat import read_paper_files
    from orchbench.store import Store

    with Store(path) as store:
        store.add_trials(read_paper_files([PAPER_DIR]))
    return path


def transcript_store(path: Path) -> Path:
    """Trials recorded call by call (start_trial, add_call, finish_trial), as a run records them,
    plus one trial still running with two calls."""
    from orchbench.records import Experiment, Trial
    from orchbench.store import Store
    from orchbench.viewer.synthetic import trial_calls

    rng = random.Random(3)
    with Store(path) as store:
        store.add_experiment(Experiment(id=TRANSCRIPT_EXPERIMENT, name="recorded transcripts"))
        for i, (tid, arm, task, status, turns, orchestrated) in enumerate(RECORDED):
            trial = Trial(id=tid, experiment=TRANSCRIPT_EXPERIMENT, arm=arm, task=task, attempt=i,
                          status="running", wall_s=0.0)
            store.start_trial(trial)
            for call in trial_calls(tid, turns, rng=rng, orchestrated=orchestrated):
                store.add_call(call)
            store.finish_trial(trial.model_copy(update={
                "status": status, "wall_s": 40.0 + 7 * i, "iterations": turns,
                "failure_reason": None if status == "success" else f"judge: {status}",
                "verdict_summary": "exit_code=0" if status == "success" else "exit_code=1"}))
        running = Trial(id=RUNNING_ID, experiment=TRANSCRIPT_EXPERIMENT, arm="C", task="T1",
                        status="running")
        store.start_trial(running)
        for call in trial_calls(RUNNING_ID, 2, rng=rng)[:2]:
            store.add_call(call)
    return path


class Browser:
    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        import websocket  # websocket-client

        self._dir = tempfile.mkdtemp(prefix="orchbench-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--user-data-dir={self._dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._dir) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start")
            time.sleep(0.05)
        port = int(port_file.read_text().split("\n")[0])
        pages = []
        while not pages and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                pages = [t for t in json.load(r) if t["type"] == "page"]
            time.sleep(0.05)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def eval(self, expr: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expr}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait(self, expr: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expr)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {expr}")
            time.sleep(0.05)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_ready()

    def wait_ready(self, renders_before: int | None = None) -> None:
        cond = "document.readyState === 'complete' && document.body && document.body.dataset.ready === '1'"
        if renders_before is not None:
            cond += f" && Number(document.body.dataset.renders) > {renders_before}"
        self.wait(cond)

    def renders(self) -> int:
        return int(self.eval("Number(document.body.dataset.renders || 0)"))

    def click(self, selector: str) -> None:
        """A real left click at the centre of the first element matching `selector`."""
        box = self.eval(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        if box is None:
            raise LookupError(f"no element {selector}")
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def color_scheme(self, scheme: str) -> None:
        self.send("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self._dir, ignore_errors=True)
