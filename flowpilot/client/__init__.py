"""The Python client of a FlowPilot server: :class:`FlowPilot` (sync) and
:class:`AsyncFlowPilot` (asyncio), typed, over httpx and WebSockets. See docs/client.md."""

from flowpilot.client.aio import AsyncFlowPilot
from flowpilot.client.errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    FieldError,
    FlowPilotError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UnexpectedResponse,
    UnsupportedMediaType,
    ValidationFailed,
    WaitTimeout,
)
from flowpilot.client.models import FINISHED, Bundle, BundleFile
from flowpilot.client.paging import AsyncPager, Pager
from flowpilot.client.session import RetryPolicy
from flowpilot.client.sync import FlowPilot

__all__ = [
    "FINISHED",
    "AsyncFlowPilot",
    "AsyncPager",
    "BadRequest",
    "Bundle",
    "BundleFile",
    "Conflict",
    "ConnectionFailed",
    "FieldError",
    "FlowPilot",
    "FlowPilotError",
    "Forbidden",
    "NotFound",
    "Pager",
    "PayloadTooLarge",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnexpectedResponse",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WaitTimeout",
]
