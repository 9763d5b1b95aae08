"""Which Earth Engine errors are worth another try, judged as the real client raises them.

earthengine-api (1.7.50) turns an HTTP error into ``EEException(message)`` raised inside its handler
of googleapiclient's ``HttpError``: the status is on the exception's ``__context__``, and a 5xx with
a non-JSON body arrives as ``EEException('Ok')``. The status decides; the message patterns are
the fallback for errors without one (network failures, older clients).
"""
from __future__ import annotations

import re

# Messages that mean "try again later". Rate limits (HTTP 429, per-minute quotas, too many
# concurrent requests) and server-side hiccups (5xx, internal errors, deadlines).
_TRANSIENT = re.compile(
    r"\b429\b|too many (requests|concurrent)|rate limit|quota exceeded.*per.?minute|per.?minute.*quota"
    r"|\b50[0234]\b|capacity exceeded|internal error|backend error|service unavailable|temporarily unavailable"
    r"|timed out|timeout|deadline|connection (reset|aborted|refused)|remote end closed",
    re.IGNORECASE,
)
# Messages that look transient but are not: the same request would fail the same way.
_PERMANENT = re.compile(
    r"memory limit exceeded|permission|denied|not found|invalid|bad request|payload size"
    r"|daily quota|not registered|has not been used in project",
    re.IGNORECASE,
)


#: HTTP statuses worth another try: throttled, timed out, or the service briefly unavailable.
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def http_status(exc: BaseException | None) -> int | None:
    """The HTTP status behind an error, where the client kept it.

    The real client raises ``EEException(message)`` *inside* its handler of googleapiclient's
    ``HttpError``, so the status is on the exception's ``__context__`` (``resp.status``), not in
    its text (a 5xx with a non-JSON body arrives as ``EEException('Ok')``).
    """
    seen = 0
    while exc is not None and seen < 5:
        for holder in (getattr(exc, "resp", None), exc):
            for attr in ("status", "status_code", "code"):
                value = getattr(holder, attr, None) if holder is not None else None
                try:
                    status = int(value) if value is not None and not callable(value) else None
                except (TypeError, ValueError):
                    status = None
                if status is not None and 100 <= status <= 599:
                    return status
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether an error from Earth Engine or the HTTP layer is worth retrying: by its HTTP status
    where the client kept one, else by its message."""
    status = http_status(exc)
    if status is not None:
        return status in _TRANSIENT_STATUS
    message = str(exc)
    if _PERMANENT.search(message):
        return False
    if _TRANSIENT.search(message):
        return True
    # Network failures below the EE client (sockets, TLS, httplib2) carry no HTTP status.
    return isinstance(exc, (ConnectionError, TimeoutError))
