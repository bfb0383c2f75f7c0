"""Wire models only: request bodies as pydantic models, no logic beyond field validation."""
