"""Output parsers: turn the engine's token stream into reasoning, content and tool calls."""
