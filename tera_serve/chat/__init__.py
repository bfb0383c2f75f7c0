"""Prompt side: chat templates, tokenization, model family detection."""
