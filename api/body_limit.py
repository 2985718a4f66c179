"""A request body limit for every route, as pure ASGI so a streamed body is counted as it arrives."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response

MAX_BODY = 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised from `receive` inside the app; an HTTPException, so FastAPI's body parsing lets it through to
    the problem handler instead of turning it into "There was an error parsing the body"."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    """413 problem+json for a body over `limit` bytes: at once when Content-Length says so, else (chunked or
    understated) as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await problem_response(413, f"the request body is larger than {self.limit} bytes")(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
