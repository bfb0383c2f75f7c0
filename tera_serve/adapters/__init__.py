"""Per wire protocol: the body → a Conversation, and the event stream → that protocol's
frames (stream) or body (fold)."""
