"""Generate the AsyncAPI 3.0 catalogue of every topic from the event models themselves.

`python -m platform_common.asyncapi > docs/asyncapi.json`; a test keeps the checked-in copy current.
"""

from __future__ import annotations

import json
from typing import Any

from platform_common.events import Envelope, registered_events
from platform_common.topics import CATALOGUE, DLQ_PARTITIONS

_PRODUCERS = {
    "file.uploaded": ["files", "external systems"], "file.ingested": ["files"], "job.started": ["projects"],
    "shard.requested": ["matcher"], "match.batch": ["matcher"], "job.progress": ["matcher"],
    "job.completed": ["results"],
}
_CONSUMERS = {
    "file.uploaded": ["files"], "file.ingested": ["projects"], "job.started": ["matcher (planner)"],
    "shard.requested": ["matcher"], "match.batch": ["results"], "job.progress": ["projects", "results"],
    "job.completed": ["projects"],
}


def build() -> dict[str, Any]:
    """The AsyncAPI document as a dict."""
    events = {cls.TOPIC: (event_type, version, cls) for (event_type, version), cls in registered_events().items()
              if not event_type.startswith("test.")}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": Envelope.model_json_schema()}
    for topic in CATALOGUE:
        event_type, version, cls = events[topic.name]
        name = cls.__name__
        schemas[name] = cls.model_json_schema(ref_template="#/components/schemas/{model}")
        for nested_name, nested in schemas[name].pop("$defs", {}).items():
            schemas[nested_name] = nested
        messages[name] = {
            "name": event_type,
            "title": f"{event_type} v{version}",
            "summary": (cls.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": {"type": "object", "description": "W3C traceparent/tracestate; dead letters add x-error-*"},
            "payload": {"allOf": [{"$ref": "#/components/schemas/Envelope"},
                                  {"properties": {"type": {"const": event_type}, "version": {"const": version},
                                                  "data": {"$ref": f"#/components/schemas/{name}"}}}]},
        }
        channels[topic.name] = {
            "address": topic.name,
            "description": topic.purpose,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"partitions": topic.partitions, "bindingVersion": "0.5.0"}},
            "x-key": f"{cls.__name__}.partition_key()",
            "x-producers": _PRODUCERS[topic.name],
            "x-consumers": _CONSUMERS[topic.name],
        }
        channels[topic.dlq] = {
            "address": topic.dlq,
            "description": f"dead letters of {topic.name}: original key and bytes, plus x-error-* headers",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"partitions": DLQ_PARTITIONS, "bindingVersion": "0.5.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Recon platform events", "version": "1.0.0",
                 "description": "Every topic, its key, producers, consumers and payload. Generated from "
                                "platform_common.events; edit the models, not this file."},
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    """The document as stable, pretty JSON text."""
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
