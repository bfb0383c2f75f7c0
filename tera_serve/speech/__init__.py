"""Speech out: Kokoro-82M behind POST /v1/audio/speech (a second kind of engine)."""
