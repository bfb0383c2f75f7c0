"""benchmarks/embeddings.py's tables on canned rows (the benchmark measures; this does not)."""

from __future__ import annotations

from benchmarks import embeddings


def _row(server: str, phase: str, batch: int, concurrency: int, rate: float) -> embeddings.Row:
    return embeddings.Row(
        server=server, phase=phase, batch=batch, concurrency=concurrency, requests=10,
        failed=0, seconds=1.0, embeddings_per_s=rate, tokens_per_s=rate * 18,
        p50_ms=1000 / rate, p99_ms=2000 / rate,
    )  # fmt: skip


def test_tables_hold_every_phase_with_ratios() -> None:
    rows = [
        _row(server, phase, batch, concurrency, rate)
        for server, rate in (("tera-serve", 200.0), ("vllm serve", 100.0))
        for phase, batch, concurrency, _ in embeddings.PHASES
    ]
    text = embeddings.markdown(rows, {"tera-serve": 1900.0, "vllm serve": 2000.0}, "note")
    assert "| 128 | 200.0 | 100.0 | 2.00× |" in text
    assert "| 32 | 5.0 | 10.0 | 0.50× |" in text
    assert "tera-serve 1900 MB, vllm serve 2000 MB" in text
    assert len({embeddings.sentence(i) for i in range(500)}) == 500
