"""The monitor's routes (starlette): the page, its live data, ``/events``, ``/healthz`` and ``/metrics``.

Every stream polls the monitor's state at its own pace and never waits on the line: a client that
reads slowly only slows its own response (uvicorn stops reading the generator while the socket is
full), and a client that falls behind ``/events`` skips the oldest events, told so in a comment.

    /               the page (static/, no build step, nothing fetched from elsewhere)
    /stream.mjpg    the live frame with heatmap and boxes, multipart JPEG at the encoder's rate
                    (drawn only while such a stream is open)
    /frame.jpg      the newest of those frames, once (drawn for the request)
    /api/state      counters, last-minute throughput and latency, health, the gallery's rejects
    /rejects/N/overlay.jpg | frame.jpg | thumb.jpg   one reject of the gallery: frame N of the one
                    source, or with ?station=NAME of that station (each station counts its frames from 0);
                    drawn at the first request, 404 once the reject is out of the last 20
    /events         server-sent events, each the journal's JSON of one event
    /healthz        200 while frames flow, 503 and the reason otherwise (no token needed)
    /metrics        Prometheus text format

Drawing and scrapes run in the thread pool, never on the event loop, so one picture or a line slow
to answer does not hold up the streams.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Optional
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.monitor.frames import PICTURES, FrameEncoder
from edge.monitor.state import MonitorState

STATIC = Path(__file__).parent / "static"
TOKEN_COOKIE = "gainctl_token"
OPEN_PATHS = ("/healthz",)  # probes of an orchestrator carry no token, and the answer reveals nothing of the parts
EVENTS_POLL_S = 0.1
KEEPALIVE_S = 15.0
BOUNDARY = "frame"


class TokenGate:
    """Lets a request through with the token as ``?token=``, ``Authorization: Bearer`` or the cookie.

    A page opened with ``?token=`` gets the cookie, so its images, fetches and event stream
    (which cannot set headers) carry the token without it appearing in every URL.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
        bearer = headers.get("authorization", "")
        cookie = SimpleCookie(headers.get("cookie", ""))
        offered = [query, bearer[7:] if bearer.lower().startswith("bearer ") else None,
                   cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None]
        if not any(value is not None and hmac.compare_digest(value.encode(), self.token.encode()) for value in offered):
            response = PlainTextResponse("this monitor needs its token: open it with ?token=... or send "
                                         "'Authorization: Bearer ...'\n", status_code=401,
                                         headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        if query is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie_header = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie_header.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def create_app(state: MonitorState, encoder: FrameEncoder, registry: CollectorRegistry, info: Dict[str, Any],
               token: Optional[str] = None, closing: Optional[threading.Event] = None) -> ASGIApp:
    """The monitor's ASGI app; ``closing`` set ends every open stream (so the server can stop)."""
    closing = closing or threading.Event()

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def api_state(request: Request) -> Response:
        counts, health, last = state.counts(), state.health(), state.last_decision
        return JSONResponse({
            "info": info, "health": {"ok": health.ok, "reason": health.reason},
            "counts": counts.decisions, "fault_reasons": counts.fault_reasons, "window": state.window(),
            # "live": whether there is a frame to stream; the page opens the stream, which starts the drawing.
            "last": last.to_dict() if last is not None else None, "live": int(state.latest is not None),
            "rejects": [{"station": r.station, "frame": r.frame, "score": r.score,
                         "ts_decision": r.ts_decision, "regions": len(r.regions or ())}
                        for r in encoder.gallery()],
        }, headers={"Cache-Control": "no-store"})

    async def frame_jpg(request: Request) -> Response:
        jpeg = await run_in_threadpool(encoder.update)
        if jpeg is None:
            return PlainTextResponse("no frame decided yet\n", status_code=404)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def mjpeg(request: Request) -> Response:
        async def parts() -> AsyncIterator[bytes]:
            # Each part is followed at once by the next boundary and part header: a browser shows a
            # part only once the next one has begun, and the next frame may be long in coming.
            part_header = f"\r\n--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n".encode()
            sent = -1
            yield part_header[2:]
            with encoder.watching():  # released when the client goes: the generator is closed or cancelled
                while not closing.is_set():
                    seq, jpeg = encoder.live_seq, encoder.live
                    if jpeg is not None and seq != sent:
                        sent = seq
                        yield jpeg + part_header
                    await asyncio.sleep(encoder.interval_s / 2)

        return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                 headers={"Cache-Control": "no-store"})

    async def reject_picture(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in PICTURES:
            return PlainTextResponse(f"no picture {kind!r}; one of {', '.join(PICTURES)}\n", status_code=404)
        jpeg = await run_in_threadpool(encoder.reject, request.path_params["frame"],
                                       request.query_params.get("station"), kind)
        if jpeg is None:
            return PlainTextResponse("that reject is no longer in the gallery (it keeps the last 20)\n", status_code=404)
        return Response(jpeg, media_type="image/jpeg")

    async def events(request: Request) -> Response:
        last_id = request.headers.get("last-event-id", "")
        cursor = int(last_id) if last_id.isdigit() else state.events.written  # resume, or start from now

        async def stream() -> AsyncIterator[str]:
            position, quiet = cursor, 0.0
            yield "retry: 1000\n\n"
            while not closing.is_set():
                items, end, skipped = state.events.since(position)
                # One chunk per poll, not one per event: a fast line sends hundreds a second.
                chunk = "".join(f"id: {seq}\ndata: {text}\n\n" for seq, text in enumerate(items, start=end - len(items) + 1))
                if skipped:
                    chunk = f": {skipped} events skipped: this client fell behind\n\n" + chunk
                if chunk:
                    yield chunk
                position = end
                quiet = 0.0 if items else quiet + EVENTS_POLL_S
                if quiet >= KEEPALIVE_S:  # keeps proxies from closing an idle stream
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(EVENTS_POLL_S)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def healthz(request: Request) -> Response:
        health = state.health()
        return JSONResponse({"ok": health.ok, "reason": health.reason}, status_code=200 if health.ok else 503)

    async def metrics(request: Request) -> Response:
        # Off the event loop: a scrape asks the line's process for its gauges, and a busy line must not stall the page.
        return Response(await run_in_threadpool(generate_latest, registry), media_type=CONTENT_TYPE_LATEST)

    app: ASGIApp = Starlette(routes=[
        Route("/", page),
        Route("/api/state", api_state),
        Route("/frame.jpg", frame_jpg),
        Route("/stream.mjpg", mjpeg),
        Route("/rejects/{frame:int}/{kind:str}.jpg", reject_picture),
        Route("/events", events),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
    return TokenGate(app, token) if token is not None else app
