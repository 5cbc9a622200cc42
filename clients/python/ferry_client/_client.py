import json
import math
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import redis

_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
#: Largest job, in bytes of JSON, as Ferry's dispatcher accepts it.
PAYLOAD_LIMIT = 512 * 1024
#: Attempts a job may be given, as Ferry's rules say.
ATTEMPTS = range(1, 1001)
#: The latest time Ferry accepts (9999-12-31T23:59:59Z), in Unix seconds.
LATEST = 253402300799
#: The longest attempt timeout (ten years), in seconds.
LONGEST_TIMEOUT = 316224000
#: Longest unique key, in bytes of UTF-8.
UNIQUE_KEY_LIMIT = 200

# Enqueue under a unique key, as Ferry's dispatcher does (docs/wire-format.md, "Unique jobs").
# KEYS: the ready list or scheduled set, the unique key, the id index. ARGV: the job, its id, how
# long the key holds in ms, the score ("" for the ready list). Returns the id holding the key.
_ENQUEUE_UNIQUE = """
local holder = redis.call('GET', KEYS[2])
if holder then return holder end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if ARGV[4] == '' then
  redis.call('LPUSH', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[2], 's:' .. ARGV[4])
end
return ARGV[2]
"""


class FerryError(ValueError):
    """A job Ferry would refuse: the message says which field and why."""


@dataclass(frozen=True)
class JobRecord:
    """How a job ended, as Ferry keeps it for the type's result_ttl."""

    status: str
    """``succeeded`` or ``dead``."""
    finished_at: float
    result: Any = None
    error: Optional[Dict[str, Any]] = None
    type: Optional[str] = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class Ferry:
    """A connection to the Redis Ferry's workers take jobs from.

    :param url: the Redis URL (``redis://[:password@]host:port/db``), as FERRY_REDIS_URL.
    :param namespace: the prefix of Ferry's keys, as FERRY_NAMESPACE (default ``ferry``).
    :param client: an existing redis-py client instead of ``url``.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", namespace: str = "ferry", client: Optional[redis.Redis] = None):
        if not _NAME.fullmatch(namespace):
            raise FerryError(f"namespace '{namespace}' must be 1 to 100 letters, digits, '.', '_' or '-'")
        self.namespace = namespace
        self.redis = client if client is not None else redis.Redis.from_url(url)
        self._enqueue_unique = self.redis.register_script(_ENQUEUE_UNIQUE)

    def _key(self, queue: str, name: str) -> str:
        return f"{self.namespace}:{{{queue}}}:{name}"

    def job(self, type: str, args: Optional[Mapping[str, Any]] = None, *, queue: str = "default",
            run_in: Optional[float] = None, run_at: Optional[float] = None, max_attempts: int = 10,
            timeout: Optional[float] = None, keep_record: bool = False, unique_key: Optional[str] = None) -> Dict[str, Any]:
        """The envelope of a job, checked as Ferry's dispatcher checks it (not written)."""
        if not isinstance(type, str) or not _NAME.fullmatch(type):
            raise FerryError(f"job type {type!r} must be 1 to 100 letters, digits, '.', '_' or '-'")
        if not isinstance(queue, str) or not _NAME.fullmatch(queue):
            raise FerryError(f"queue {queue!r} must be 1 to 100 letters, digits, '.', '_' or '-'")
        args = {} if args is None else args
        if not isinstance(args, Mapping):
            raise FerryError(f"the arguments of {type} must be a mapping (a JSON object), like {{'user_id': 42}}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts not in ATTEMPTS:
            raise FerryError(f"max_attempts must be a whole number from 1 to 1000, got {max_attempts!r}")
        if run_in is not None and run_at is not None:
            raise FerryError("give run_in or run_at, not both")
        now = time.time()
        due = None
        if run_in is not None:
            due = now + _seconds("run_in", run_in, 0, LATEST)
        elif run_at is not None:
            due = _seconds("run_at", run_at, 0, LATEST)
        job: Dict[str, Any] = {"id": uuid.uuid4().hex, "type": type, "queue": queue, "args": dict(args),
                               "attempt": 1, "max_attempts": max_attempts, "created_at": now, "enqueued_at": now}
        if due is not None and due > now:
            job["run_at"] = due
        if timeout is not None:
            job["timeout_s"] = _seconds("timeout", timeout, 0.001, LONGEST_TIMEOUT)
        if keep_record:
            job["keep_record"] = True
        if unique_key is not None:
            if not isinstance(unique_key, str) or not 1 <= len(unique_key.encode()) <= UNIQUE_KEY_LIMIT:
                raise FerryError(f"unique_key must be a string of 1 to {UNIQUE_KEY_LIMIT} bytes, got {unique_key!r}")
            job["unique_key"] = unique_key
        return job

    def enqueue(self, type: str, args: Optional[Mapping[str, Any]] = None, *, unique_for: float = 3600, **options: Any) -> str:
        """Enqueues one job and returns its id. Options: ``queue`` (default ``default``: name the
        type's queue when its settings give it another), ``run_in`` (seconds), ``run_at`` (Unix
        seconds), ``max_attempts`` (10), ``timeout`` (seconds), ``keep_record`` (keep a record of
        how it ended even without a result, for :meth:`result`), ``unique_key``: while a job with
        this key waits or runs (at most ``unique_for`` seconds, default an hour), enqueueing another
        enqueues nothing and returns the id of the one already there."""
        return self.enqueue_many([self.job(type, args, **options)], unique_for=unique_for)[0]

    def enqueue_many(self, jobs: Iterable[Union[Dict[str, Any], tuple]], *, unique_for: float = 3600) -> List[str]:
        """Enqueues many jobs (envelopes from :meth:`job`, or ``(type, args)`` pairs) and returns
        their ids in order: for a job with a ``unique_key`` already held, the holder's id. Every job
        is checked first: one bad job enqueues none. Jobs without a unique key go in one round
        trip; each unique one is an atomic check-and-set, in order, in the same pipeline."""
        envelopes = [job if isinstance(job, dict) else self.job(*job) for job in jobs]
        hold_ms = int(_seconds("unique_for", unique_for, 0.001, LONGEST_TIMEOUT) * 1000)
        payloads = []
        for job in envelopes:
            try:
                payload = json.dumps(job, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
            except (TypeError, ValueError) as error:
                raise FerryError(f"the arguments of {job['type']} are not JSON: {error}") from None
            if len(payload) > PAYLOAD_LIMIT:
                raise FerryError(f"the job of {job['type']} is {len(payload)} bytes of JSON; the limit is {PAYLOAD_LIMIT}")
            payloads.append(payload)
        ids: List[Optional[str]] = [job["id"] for job in envelopes]
        unique: List[Tuple[int, int]] = []  # (job, its script's reply) by position
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(f"{self.namespace}:queues", *sorted({job["queue"] for job in envelopes}))
            commands = 1
            for index, (job, payload) in enumerate(zip(envelopes, payloads)):
                due = int(job["run_at"] * 1000) if "run_at" in job else None
                if "unique_key" in job:
                    target = self._key(job["queue"], "scheduled" if due is not None else "ready")
                    keys = [target, self._key(job["queue"], f"unique:{job['unique_key']}"), self._key(job["queue"], "ids")]
                    self._enqueue_unique(keys=keys, args=[payload, job["id"], hold_ms, "" if due is None else due], client=pipe)
                    unique.append((index, commands))
                    commands += 1
                elif due is not None:
                    pipe.zadd(self._key(job["queue"], "scheduled"), {payload: due})
                    pipe.hset(self._key(job["queue"], "ids"), job["id"], f"s:{due}")
                    commands += 2
                else:
                    pipe.lpush(self._key(job["queue"], "ready"), payload)
                    commands += 1
            replies = pipe.execute()
        for index, reply in unique:
            holder = replies[reply]
            ids[index] = holder.decode() if isinstance(holder, bytes) else str(holder)
        return [str(job_id) for job_id in ids]

    def result(self, job_id: str, queue: str = "default", timeout: Optional[float] = None) -> Optional[JobRecord]:
        """How job ``job_id`` of ``queue`` ended, or None if it has not (yet), or left no record
        (a job that hands back nothing leaves none unless enqueued with ``keep_record=True``).
        With ``timeout``, waits up to that many seconds on the server, without polling."""
        key = self._key(queue, f"result:{job_id}")
        raw = self.redis.get(key)
        if raw is None and timeout:
            finished = self._key(queue, f"finished:{job_id}")
            # BLMOVE onto the same list leaves the element for any other waiter.
            self.redis.execute_command("BLMOVE", finished, finished, "RIGHT", "LEFT", f"{max(0.001, timeout):.3f}")
            raw = self.redis.get(key)
        if raw is None:
            return None
        record = json.loads(raw)
        return JobRecord(status=record["status"], finished_at=record["finished_at"], result=record.get("result"),
                         error=record.get("error"), type=record.get("type"))


def _seconds(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
        raise FerryError(f"{name} must be seconds from {low:g} to {high:g}, got {value!r}")
    return float(value)
