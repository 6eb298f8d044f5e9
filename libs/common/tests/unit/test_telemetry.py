from __future__ import annotations

import json
import logging

from opentelemetry import trace

from platform_common.telemetry import JsonFormatter, setup_logging


def test_json_log_lines_carry_trace_and_span_ids() -> None:
    formatter = JsonFormatter("unit")
    tracer = trace.get_tracer("unit")
    with tracer.start_as_current_span("work") as span:
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
        record.ctx_job = "j-1"
        line = json.loads(formatter.format(record))
    assert line["message"] == "hello world"
    assert line["level"] == "warning" and line["service"] == "unit" and line["job"] == "j-1"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")


def test_exceptions_are_logged_inside_the_json_line() -> None:
    formatter = JsonFormatter("unit")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(formatter.format(record))
    assert "ValueError: boom" in line["exception"]
    assert "trace_id" not in line


def test_setup_logging_installs_one_json_handler() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("unit", "debug")
        assert len(root.handlers) == 1
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
