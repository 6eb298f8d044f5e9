"""Make kubernetes-validate's JSON schemas readable from disk by kubeconform.

The packaged schemas carry `$id: https://kubernetes.io/api/...` and `$ref: /api/_definitions.json#...`,
so a validator resolves every reference against kubernetes.io, which this machine cannot reach.
Dropping `$id` and making the references relative lets them resolve next to the file instead.

Usage: python localize_schemas.py <dir-with-version-folders>   (stdlib only)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ABSOLUTE_DEFINITIONS_REF = "/api/_definitions.json"
RELATIVE_DEFINITIONS_REF = "_definitions.json"


def localize(node: Any) -> Any:
    if isinstance(node, dict):
        localized = {key: localize(value) for key, value in node.items() if key != "$id"}
        reference = localized.get("$ref")
        if isinstance(reference, str) and reference.startswith(ABSOLUTE_DEFINITIONS_REF):
            localized["$ref"] = RELATIVE_DEFINITIONS_REF + reference[len(ABSOLUTE_DEFINITIONS_REF) :]
        return localized
    if isinstance(node, list):
        return [localize(item) for item in node]
    return node


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1])
    schema_files = sorted(root.glob("*/*.json"))
    if not schema_files:
        print(f"no schemas under {root}", file=sys.stderr)
        return 1
    for schema_file in schema_files:
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        schema_file.write_text(json.dumps(localize(schema)), encoding="utf-8")
    print(f"localized {len(schema_files)} schemas under {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
