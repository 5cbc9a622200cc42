"""Celery's side of ops/bench's side-by-side drain of Celery messages: the same job as Ferry's
ferry.record — one round trip that adds the task id to a set and increments a counter,
pipelined — so Celery's own worker and Ferry's do the same Redis work per task.

    python celery_tasks.py send URL QUEUE KEY N     the real Celery client sends N tasks
    python -m celery -A celery_tasks worker ...      Celery's own worker runs them (CELERY_BROKER_URL)
"""
import os
import sys

import redis
from celery import Celery
from celery.signals import worker_ready

app = Celery("bench", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False, worker_log_format="%(message)s",
                worker_prefetch_multiplier=16, broker_connection_retry_on_startup=True)
_redis = None


@app.task(name="ferry.record", ignore_result=True, bind=True)
def record(self, key, ms=0):
    global _redis
    if _redis is None:
        _redis = redis.from_url(os.environ["CELERY_BROKER_URL"])
    with _redis.pipeline(transaction=False) as pipe:
        pipe.sadd(key, self.request.id)
        pipe.incr(f"{key}:runs")
        pipe.execute()


@worker_ready.connect
def ready(**_):
    """Tells ferry-bench the worker is up (a key), so that the messages are released only then."""
    redis.from_url(os.environ["CELERY_BROKER_URL"]).set("celery-bench-ready", 1)


if __name__ == "__main__" and sys.argv[1:2] == ["send"]:
    url, queue, key, count = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    sender = Celery("api", broker=url)
    sender.conf.update(task_ignore_result=True)
    with sender.producer_or_acquire() as producer:
        for _ in range(count):
            sender.send_task("ferry.record", kwargs={"key": key}, queue=queue, ignore_result=True, producer=producer)
