"""Enqueue jobs for Ferry's workers from Python, and read their results.

    from ferry_client import Ferry

    ferry = Ferry("redis://127.0.0.1:6379/0")
    job_id = ferry.enqueue("email.send", {"to": "ada@example.com", "template": "welcome"}, queue="mail")
    ferry.enqueue("stories.expire", run_in=30, queue="maintenance")
    record = ferry.result(ferry.enqueue("ferry.echo", {"n": 1}, keep_record=True), timeout=10)

It writes the job envelope of Ferry's wire format (docs/wire-format.md) and checks what Ferry's
dispatcher checks before anything is written: names, arguments, attempts, times and size.
"""
from ._client import Ferry, FerryError, JobRecord

__all__ = ["Ferry", "FerryError", "JobRecord"]
