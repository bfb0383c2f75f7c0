"""Engines: the protocol every engine meets, the vLLM adapter, and a scripted fake."""
