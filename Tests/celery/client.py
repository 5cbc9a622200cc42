"""Drives Ferry's workers with the real Celery client (celery from PyPI, unmodified), as a
Django or FastAPI tier does: tasks sent with send_task, delay and apply_async to a Celery queue
on Ferry's Redis, results read back with AsyncResult.get(). Prints one JSON object: what each
call returned or raised. Run by FerryCeleryTests with the Python of .ferry/celery-venv.

    client.py --redis URL --queue Q calls     every way of sending, and the refusals
    client.py --redis URL --queue Q send N    N app.tasks.record tasks (positional key, 20 ms each), their ids
    client.py --redis URL --queue Q results   the results of the ids on standard input
    client.py --redis URL --queue Q hung      a task that ignores its time limit
"""
import argparse
import json
import sys
import time

import redis
from celery import Celery, chain


def app_for(url, queue, serializer="json"):
    app = Celery("api", broker=url, backend=url)
    app.conf.update(task_default_queue=queue, task_serializer=serializer, accept_content=["json", "pickle"],
                    broker_connection_retry_on_startup=True)
    return app


def raised(call):
    try:
        return {"returned": call()}
    except Exception as error:  # what the caller sees: the exception's type and message
        return {"raised": type(error).__name__, "message": str(error)}


def calls(url, queue):
    app = app_for(url, queue)

    @app.task(name="ferry.echo")
    def echo(**kwargs):
        raise RuntimeError("runs on Ferry's workers, never here")

    report = {}
    report["delay"] = echo.delay(a=1).get(timeout=30)
    report["send_task"] = app.send_task("ferry.echo", kwargs={"b": "ü", "n": [1, 2.5, None]}).get(timeout=30)
    report["priority"] = echo.apply_async(kwargs={"p": 9}, priority=9).get(timeout=30)
    started = time.time()
    report["countdown"] = echo.apply_async(kwargs={"c": 1}, countdown=2).get(timeout=30)
    report["countdown_s"] = time.time() - started
    late = echo.apply_async(kwargs={"late": 1}, countdown=3, expires=1)
    report["expired"] = dict(raised(lambda: late.get(timeout=30)), status=late.status)
    key = f"celery-positional-{queue}"
    report["positional"] = app.send_task("app.tasks.record", args=[key, 0]).get(timeout=30)
    report["recorded"] = redis.from_url(url).scard(key)
    failing = app.send_task("ferry.fail", kwargs={"message": "no luck"})
    report["failure"] = dict(raised(lambda: failing.get(timeout=30)), status=failing.status)
    unknown = app.send_task("no.such.task", kwargs={})
    report["unknown"] = dict(raised(lambda: unknown.get(timeout=30)), status=unknown.status)
    extra = app.send_task("ferry.echo", args=[1, 2])
    report["unnamed_positional"] = raised(lambda: extra.get(timeout=30))
    pickled = app_for(url, queue, serializer="pickle").send_task("ferry.echo", kwargs={"x": 1})
    report["pickle"] = raised(lambda: pickled.get(timeout=30))
    ignored = app.send_task("ferry.echo", kwargs={"i": 1}, ignore_result=True)
    time.sleep(1)
    report["ignored_result_stored"] = redis.from_url(url).exists(f"celery-task-meta-{ignored.id}")
    # A chain: the second task gets the first one's result (parent_result, as ferry.echo names no
    # positional argument), the third is immutable and records its own id under a key.
    chained = chain(app.signature("ferry.echo", kwargs={"x": 1}), app.signature("ferry.echo", kwargs={"y": 2}),
                    app.signature("app.tasks.record", args=[f"celery-chain-{queue}"], immutable=True)).apply_async()
    report["chain_last"] = chained.get(timeout=30)
    report["chain_middle"] = chained.parent.get(timeout=30)
    report["chain_recorded"] = [m.decode() for m in redis.from_url(url).smembers(f"celery-chain-{queue}")] == [chained.id]
    many = [app.send_task("ferry.echo", kwargs={"i": i}) for i in range(1000)]
    report["many_correct"] = sum(1 for i, result in enumerate(many) if result.get(timeout=60) == {"echo": {"i": i}})
    return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("scenario", choices=["calls", "send", "results", "hung"])
    parser.add_argument("count", nargs="?", type=int, default=0)
    args = parser.parse_args()
    if args.scenario == "calls":
        print(json.dumps(calls(args.redis, args.queue)))
    elif args.scenario == "hung":
        hung = app_for(args.redis, args.queue).send_task("ferry.sleep", kwargs={"ms": 6000, "ignore_cancel": True}, time_limit=1)
        print(json.dumps(dict(raised(lambda: hung.get(timeout=60)), status=hung.status)))
    elif args.scenario == "send":
        app = app_for(args.redis, args.queue)
        key = f"celery-killed-{args.queue}"
        for _ in range(args.count):
            print(app.send_task("app.tasks.record", args=[key, 20]).id)
    else:
        app = app_for(args.redis, args.queue)
        ids = sys.stdin.read().split()
        print(json.dumps(sum(1 for task_id in ids if app.AsyncResult(task_id).get(timeout=60) is None)))


if __name__ == "__main__":
    main()
