"""One failure policy for every agent (issue 11: no agent may log "Crashed" and carry on).

A message that fails is one of two things:
- **its own fault** (it cannot be decoded, the domain refuses it, our pure logic chokes on
  its values): the agent answers it, with a dead letter on `<topic>.dlq` or a refused
  outcome on billing.outcomes, and the stream goes on. Each agent does that where it
  knows how to answer (see the agents).
- **anything else** (the broker, a table, a bug in our glue): `stop_worker` logs the error
  with its traceback and ends the process with EXIT_AGENT_FAILURE, without acknowledging
  the message, so that its supervisor restarts the worker and the message is retried
  from the last committed offset. Every effect is idempotent (ids, versions, command ids),
  so the retry applies nothing twice.

Why not let the exception out: Faust then logs "Crashed", restarts the agent on the next
message and acknowledges the failed one on the way (its stream iterator acks in a
`finally`), so the message is skipped for good with its work half done.
"""
from __future__ import annotations

import functools
import logging
import os
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, NoReturn

from infra.settings import load_settings
from ops import metrics

log = logging.getLogger(__name__)

#: The exit status of a worker stopped by a failed message (EX_SOFTWARE).
EXIT_AGENT_FAILURE = 70

#: How the process ends; tests of the pure paths may replace it to observe the call.
_exit: Callable[[int], NoReturn] = os._exit
_FAULT = load_settings().fault


def stop_worker(agent: str, where: str, error: BaseException) -> NoReturn:
    """Log loudly, flush the logs, and end the process with EXIT_AGENT_FAILURE (message not acked)."""
    metrics.AGENT_FAILURES.labels(agent).inc()
    log.critical("agent %s failed on %s: %s: %s; stopping the worker (exit %d) so that the message is retried "
                 "after a restart", agent, where, type(error).__name__, error, EXIT_AGENT_FAILURE, exc_info=error)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:   # pragma: no cover - a broken handler must not keep the process alive
            pass
    _exit(EXIT_AGENT_FAILURE)


def where_of(message) -> str:
    topic = getattr(message, "topic", "?")
    return f"{topic}[{getattr(message, 'partition', '?')}]@{getattr(message, 'offset', '?')}"


@asynccontextmanager
async def failure_stops_worker(agent: str, message) -> AsyncIterator[None]:
    """Wrap the handling of one message: an exception that escapes it stops the worker."""
    try:
        yield
    except Exception as exc:   # noqa: BLE001 - this is the policy's one place
        stop_worker(agent, where_of(message), exc)


def injected_fault(agent: str, kind: str) -> None:
    """BACKOFFICE_FAULT=agent:kind raises here: tests start a worker with it, watch the policy
    act, and restart the worker without it. Never set in production."""
    if _FAULT is not None and _FAULT == f"{agent}:{kind}":
        raise RuntimeError(f"injected fault in {agent} on {kind}")


def keeps_ticking(name: str):
    """For timers: a failed tick is logged with its traceback and counted, and the next tick runs.

    A timer consumes no offsets, so retrying on the next tick is safe; letting the exception
    out would end Faust's timer task for good (no more scheduled windows, silently)."""
    def wrap(fun):
        @functools.wraps(fun)
        async def tick(*args):
            try:
                await fun(*args)
            except Exception as exc:   # noqa: BLE001 - see the docstring
                metrics.AGENT_FAILURES.labels(name).inc()
                log.error("timer %s failed: %s: %s; it runs again on its next tick", name, type(exc).__name__, exc,
                          exc_info=exc)
        return tick
    return wrap
