"""JSON Schema of the lab file, for editors (yaml-language-server) and `homelab schema`."""

from __future__ import annotations

import json

SCHEMA_ID = "https://homelab.invalid/schema/homelab.schema.json"


def json_schema() -> dict:
    from homelab.lab.models import Lab

    schema = Lab.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "homelab.yaml"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
