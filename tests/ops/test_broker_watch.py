"""ops.broker_watch: the clients' connection errors while the broker is gone become a few
WARNINGs naming the broker, at doubling intervals; anything else passes untouched."""
import asyncio
import io
import logging

from ops.broker_watch import BrokerLogGate, BrokerWatch

BROKER = "127.0.0.1:40001"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _logger(gate):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(gate)
    root = logging.getLogger("gate-test")
    root.handlers, root.propagate, root.level = [handler], False, logging.DEBUG
    return stream


def test_a_minute_of_retry_errors_is_a_handful_of_warnings_naming_the_broker():
    clock = Clock()
    gate = BrokerLogGate(BROKER, clock=clock)
    stream = _logger(gate)
    aiokafka = logging.getLogger("gate-test.x")
    for _ in range(6000):             # what aiokafka logs in a minute without a broker (one every 10 ms)
        record = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "Unable connect to node with id %s: %s",
                                   (111, "[Errno 111] Connect call failed"), None)
        aiokafka.handle(record)
        clock.now += 0.01
    lines = stream.getvalue().splitlines()
    assert 5 <= len(lines) <= 8, lines           # at 0, 1, 3, 7, 15, 31 s (doubling), then at most every 60 s
    assert all(line.startswith("WARNING aiokafka broker " + BROKER + " unreachable") for line in lines), lines
    counts = [int(line.split("retrying: ")[1].split()[0]) for line in lines]
    assert counts[0] == 1 and counts[1:] == sorted(counts[1:]) and sum(counts) <= 6000, counts   # growing gaps
    assert "Connect call failed" in lines[-1]


def test_other_records_pass_untouched():
    gate = BrokerLogGate(BROKER, clock=Clock())
    stream = _logger(gate)
    log = logging.getLogger("gate-test.y")
    for name, level, msg in (("workers.agents", logging.ERROR, "Connection refused by the SMTP server"),
                             ("aiokafka", logging.INFO, "Connection refused (info, below WARNING)"),
                             ("aiokafka", logging.ERROR, "Unexpected error in fetcher routine")):
        log.handle(logging.LogRecord(name, level, __file__, 1, msg, (), None))
    assert stream.getvalue().splitlines() == [
        "ERROR workers.agents Connection refused by the SMTP server",
        "INFO aiokafka Connection refused (info, below WARNING)",
        "ERROR aiokafka Unexpected error in fetcher routine"]


def test_the_watch_says_when_the_broker_goes_and_when_it_is_back(caplog):
    class Probe:
        bootstrap = BROKER
        answers = [None, f"broker {BROKER} unreachable: refused", f"broker {BROKER} unreachable: refused", None, None]

        async def reason(self):
            return self.answers.pop(0)

    back = []

    async def on_back():
        back.append(True)

    async def run():
        watch = BrokerWatch(Probe(), "worker", on_back=on_back)
        for _ in range(5):
            await watch.step()

    with caplog.at_level(logging.WARNING, logger="ops.broker_watch"):
        asyncio.run(run())
    messages = [r.getMessage() for r in caplog.records if r.name == "ops.broker_watch"]
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"broker {BROKER} unreachable") and "stays up" in messages[0]
    assert messages[1].startswith(f"broker {BROKER} reachable again")
    assert back == [True], "the check run when the broker is back (the worker's: is it a new broker?)"
