"""The protocol-neutral request every wire protocol is translated into (types only)."""
