"""benchmarks/profile_groups.py: py-spy's collapsed stacks into per-request cost groups."""

from __future__ import annotations

from pathlib import Path

from benchmarks import profile_groups

SITE = "/work/main/.venv/lib/python3.11/site-packages"
LIB = "/root/.pyenv/versions/3.11.7/lib/python3.11"
RAW = "\n".join(
    [
        # pydantic inside a route: parsing, though the middleware is further out.
        f"thread (1): MainThread;run (asyncio/runners.py:118);__call__ (/work/main/tera_serve/security/middleware.py:40);"
        f"validate ({SITE}/pydantic/main.py:10) 30",
        # h11 under a middleware: HTTP.
        f"thread (1): MainThread;__call__ (/work/main/tera_serve/security/middleware.py:40);send ({SITE}/h11/_connection.py:5) 20",
        # a pool thread rendering a template: its threading.py root does not make it a hop.
        f"thread (7): ThreadPoolExecutor-0_1;run ({LIB}/threading.py:982);_worker ({LIB}/concurrent/futures/thread.py:81);"
        f"render ({SITE}/jinja2/environment.py:1) 25",
        # the pool's own machinery as the leaf: a hop; a worker waiting for work: idle.
        f"thread (7): ThreadPoolExecutor-0_1;run ({LIB}/threading.py:982);_worker ({LIB}/concurrent/futures/thread.py:81);"
        f"run ({LIB}/concurrent/futures/thread.py:58) 10",
        f"thread (7): ThreadPoolExecutor-0_1;run ({LIB}/threading.py:982);_worker ({LIB}/concurrent/futures/thread.py:81) 40",
        # the loop's own frames: uvicorn/h11; unknown code: other.
        f"thread (1): MainThread;_run_once ({LIB}/asyncio/base_events.py:1900) 10",
        "thread (1): MainThread;helper (/work/main/tera_serve/http/app.py:3) 5",
        "not a sample line",
    ]
)


def test_samples_fall_into_the_group_of_their_innermost_named_frame(tmp_path: Path) -> None:
    samples = profile_groups.parse_raw(RAW)
    assert len(samples) == 7 and samples[0].count == 30
    summary = profile_groups.summarize(samples)
    assert summary.total == 100 and summary.idle == 40
    assert summary.groups == {
        "body parsing/validation": 30,
        "uvicorn/h11": 30,
        "template/tokenization": 25,
        "pool hops": 10,
        "other": 5,
    }
    assert summary.threads == {"MainThread": 65, "ThreadPoolExecutor-0_N": 35}
    path = tmp_path / "profile.txt"
    path.write_text(RAW)
    text = profile_groups.main([str(path), "--us-per-request", "1000", "--top", "3"])
    assert "| body parsing/validation | 30.0% | 300 |" in text
    assert "| `validate (pydantic/main.py)` | 30.0% |" in text
