"""Public API contracts: the pydantic models a service validates with and the gateway documents (OpenAPI)."""
