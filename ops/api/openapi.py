"""The OpenAPI 3 document of the ops API, generated from the pydantic models."""
from __future__ import annotations

from pydantic import BaseModel

from ops.api import models as m

PREFIX = "/api/v1/tenants/{tenant}"
TENANT = {"name": "tenant", "in": "path", "required": True,
          "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"}}
ID_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9:|._-]{1,200}$"}
WAIT = {"name": "wait", "in": "query", "required": False,
        "schema": {"type": "number", "minimum": 0, "maximum": 30, "default": 0},
        "description": "Seconds to wait for the commands' outcomes."}
ERRORS = {code: {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
          for code, text in (("400", "Malformed request"), ("401", "Missing or unknown token"),
                             ("403", "Token not allowed for this tenant"), ("404", "Not found"),
                             ("422", "A field is invalid"))}
MODELS: list[type[BaseModel]] = [m.Error, m.CommandAccepted, m.BatchList, m.BatchInvoices, m.InvoiceDetail,
                                 m.TenantHealth, m.TenantWindows, *m.COMMAND_BODIES.values()]


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _ok(model: type[BaseModel], status: str = "200") -> dict:
    return {status: {"description": "OK", "content": {"application/json": {"schema": _ref(model)}}}}


def _get(summary: str, model: type[BaseModel], params: list[dict], not_found: bool = False) -> dict:
    errors = {k: v for k, v in ERRORS.items() if k in ("400", "401", "403") or (not_found and k == "404")}
    return {"get": {"summary": summary, "parameters": [TENANT, *params], "responses": {**_ok(model), **errors},
                    "security": [{"bearer": []}]}}


def build() -> dict:
    schemas: dict = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    paths = {
        f"{PREFIX}/batches": _get("List Batches: pending amounts and previous batches", m.BatchList, []),
        f"{PREFIX}/batches/{{batch_id}}/invoices": _get(
            "One batch's invoices and credit memos", m.BatchInvoices,
            [{"name": "batch_id", "in": "path", "required": True, "schema": ID_SCHEMA}], not_found=True),
        f"{PREFIX}/invoices/{{invoice_id}}": _get(
            "One invoice with its lines and status history", m.InvoiceDetail,
            [{"name": "invoice_id", "in": "path", "required": True, "schema": ID_SCHEMA}], not_found=True),
        f"{PREFIX}/health": _get("The health check over the tenant's pending pay lines", m.TenantHealth, []),
        f"{PREFIX}/windows": _get("Batch windows: scheduled, in progress, blocked (why, since when; retried on "
                                  "each scheduler cycle), closed", m.TenantWindows, []),
    }
    for name, body in m.COMMAND_BODIES.items():
        paths[f"{PREFIX}/commands/{name}"] = {"post": {
            "summary": f"Publish a {name} command (same record as the CLI)", "parameters": [TENANT, WAIT],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body)}}},
            "responses": {**_ok(m.CommandAccepted, "202"),
                          **ERRORS},
            "security": [{"bearer": []}]}}
    return {"openapi": "3.1.0",
            "info": {"title": "backoffice ops API", "version": "1.0.0",
                     "description": "Batches, invoices, windows, health and operator commands of one worker."},
            "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}
