"""The recording reverse proxy: forwards every request upstream unchanged, streams the reply back
chunk by chunk as it arrives, and records each Messages / chat-completions call as it completes.

Built on aiohttp (one library for the server, the Unix-socket listener and the streaming upstream
client, all on one event loop in a background thread). The agent never holds a provider key: the
proxy replaces whatever key the agent sends with the real one from our environment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import aiohttp
from aiohttp import web

from orchbench.proxy.recording import WireRecorder
from orchbench.proxy.wire import Api, Reading, api_of, read_request
from orchbench.records import utcnow

log = logging.getLogger(__name__)
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                  "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding",
                  "content-encoding"})


def upstream_url(base: str, path_qs: str) -> str:
    """`base` + the request's path, without doubling a `/v1` both carry."""
    base = base.rstrip("/")
    if base.endswith("/v1") and (path_qs.startswith("/v1/") or path_qs == "/v1"):
        path_qs = path_qs[3:]
    return base + path_qs


class RecordingProxy:
    """Use as a context manager; `url` (loopback TCP) and `socket_path` (Unix) reach it."""

    def __init__(self, upstreams: Mapping[Api, str], recorder: WireRecorder | None = None, *,
                 keys: Mapping[Api, str | None] | None = None, unix_path: Path | None = None,
                 tcp: bool = True) -> None:
        self.upstreams = dict(upstreams)
        self.recorder = recorder
        self.keys = dict(keys or {})
        self.socket_path = unix_path
        self.tcp = tcp
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._failed: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Self:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="orchbench-proxy", daemon=True)
        self._thread.start()
        ready.wait()
        if self._failed is not None:
            raise self._failed
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._startup())
        except Exception as exc:  # noqa: BLE001 - reported to start()'s caller
            self._failed = exc
            ready.set()
            loop.close()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._cleanup())
            loop.close()

    async def _startup(self) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(auto_decompress=False,
                                              timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        if self.socket_path is not None:
            await web.UnixSite(self._runner, str(self.socket_path)).start()
        if self.tcp:
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert server is not None and isinstance(server, asyncio.Server)
            self.port = server.sockets[0].getsockname()[1]

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        if self.recorder is not None:
            self.recorder.close()

    # -- one request --------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        api = api_of(request.path)
        base = self.upstreams.get(api) if api else next(iter(self.upstreams.values()), None)
        if base is None:
            return web.json_response({"error": {"message": f"orchbench proxy: no upstream for {request.path}"}},
                                     status=502)
        body: dict[str, Any] | None = None
        if api is not None and request.method == "POST":
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = None
        if api == "openai" and body is not None and body.get("stream"):
            raw = _with_stream_usage(body) or raw
        started_at, t0 = utcnow(), time.perf_counter()
        assert self._session is not None
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            if reading is None or body is None or api is None or self.recorder is None or recorded:
                return
            recorded = True
            reading.close(status)
            try:
                self.recorder.record(read_request(api, body), reading, started_at=started_at,
                                     latency_s=time.perf_counter() - t0)
            except Exception:  # a recording bug must not break the agent's conversation
                log.exception("orchbench proxy: could not record a call")

        reading: Reading | None = None
        resp: web.StreamResponse | None = None
        try:
            async with self._session.request(request.method, upstream_url(base, request.path_qs), data=raw,
                                             headers=self._headers(request.headers, api)) as up:
                resp = web.StreamResponse(status=up.status, reason=up.reason,
                                          headers={k: v for k, v in up.headers.items() if k.lower() not in _HOP})
                await resp.prepare(request)
                if api is not None and body is not None:
                    reading = Reading(api, streamed="event-stream" in up.headers.get("content-type", ""))
                async for chunk in up.content.iter_any():
                    if reading is not None:
                        reading.feed(chunk)
                        if reading.complete:  # stored before the client can see the reply end
                            record(up.status)
                    await resp.write(chunk)
                record(up.status)
                await resp.write_eof()
        except (TimeoutError, aiohttp.ClientError, ConnectionResetError) as exc:
            msg = f"orchbench proxy: upstream {base} failed: {type(exc).__name__}: {exc}"
            if api is not None and body is not None and reading is None:
                reading = Reading(api, streamed=False)
                reading.feed(msg.encode())
                record(502)  # the agent's call failed outside its control: stored, with the reason
            elif reading is not None:
                reading.error = f"interrupted mid-reply: {type(exc).__name__}: {exc}"
                record(200)  # what had arrived (e.g. message_start's usage) is kept
            if resp is not None and resp.prepared:
                return resp
            return web.json_response({"type": "error", "error": {"type": "api_error", "message": msg}}, status=502)
        return resp

    def _headers(self, incoming: Mapping[str, str], api: Api | None) -> dict[str, str]:
        out = {k: v for k, v in incoming.items() if k.lower() not in _HOP}
        out["accept-encoding"] = "identity"  # so what we parse is what we pass on
        key = self.keys.get(api) if api else None
        if key:
            for k in list(out):
                if k.lower() in ("x-api-key", "authorization"):
                    del out[k]
            if api == "anthropic":
                out["x-api-key"] = key
            else:
                out["authorization"] = f"Bearer {key}"
        return out


def _with_stream_usage(body: dict[str, Any]) -> bytes | None:
    """An OpenAI stream reports usage only when asked: ask, so every streamed call is counted."""
    opts = body.get("stream_options") or {}
    if opts.get("include_usage"):
        return None
    return json.dumps({**body, "stream_options": {**opts, "include_usage": True}}).encode()
