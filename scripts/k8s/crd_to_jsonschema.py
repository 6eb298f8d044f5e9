"""Convert CustomResourceDefinition manifests into strict JSON schemas kubeconform reads from disk.

Writes `<out>/<group>/<kind>_<version>.json` (kubeconform's default CRD layout), one per served version.
The conversion follows kubeconform's own openapi2jsonschema: objects that declare `properties` reject
unknown fields (the API server prunes them silently, which is exactly the typo we want to catch)
unless they opt into `x-kubernetes-preserve-unknown-fields`; int-or-string becomes a oneOf; OpenAPI's
`nullable` becomes a JSON-schema null type.

Usage: python crd_to_jsonschema.py <out-dir> <crd.yaml>...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

JsonSchema = dict[str, Any]

SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "definitions")
SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf")
SCHEMA_VALUE_KEYWORDS = ("items", "additionalProperties", "not")


def to_strict_json_schema(openapi: JsonSchema) -> JsonSchema:
    schema: JsonSchema = {}
    for key, value in openapi.items():
        if key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            schema[key] = {name: to_strict_json_schema(child) for name, child in value.items()}
        elif key in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            schema[key] = [to_strict_json_schema(child) for child in value]
        elif key in SCHEMA_VALUE_KEYWORDS and isinstance(value, dict):
            schema[key] = to_strict_json_schema(value)
        else:
            schema[key] = value

    if schema.pop("x-kubernetes-int-or-string", False) or schema.get("format") == "int-or-string":
        schema.pop("type", None)
        schema.pop("format", None)
        schema["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if schema.pop("nullable", False) and isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    preserves_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in schema and "additionalProperties" not in schema and not preserves_unknown:
        schema["additionalProperties"] = False
    return schema


def convert_crd(crd: JsonSchema, out_dir: Path) -> list[Path]:
    if crd.get("kind") != "CustomResourceDefinition":
        raise ValueError(f"not a CustomResourceDefinition: {crd.get('kind')!r}")
    spec = crd["spec"]
    group = spec["group"]
    kind = spec["names"]["kind"]
    written: list[Path] = []
    for version in spec["versions"]:
        openapi = version.get("schema", {}).get("openAPIV3Schema")
        if openapi is None:
            raise ValueError(f"{kind} {version['name']} has no openAPIV3Schema")
        schema = to_strict_json_schema(openapi)
        # Pin apiVersion/kind so a manifest of another kind routed here by mistake cannot pass.
        properties = schema.setdefault("properties", {})
        properties["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        properties["kind"] = {"type": "string", "enum": [kind]}
        target = out_dir / group / f"{kind.lower()}_{version['name']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(schema, indent=1), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[1])
    written: list[Path] = []
    for manifest in argv[2:]:
        for document in yaml.safe_load_all(Path(manifest).read_text(encoding="utf-8")):
            if document:
                written.extend(convert_crd(document, out_dir))
    for path in written:
        print(f"wrote {path.relative_to(out_dir)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
