"""The Python client against real Ferry workers: run by FerryWorkerTests/PythonClientTests with
FERRY_TEST_REDIS_URL and FERRY_TEST_FERRY_BIN (ops/test sets both), or by hand the same way."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from ferry_client import Ferry, FerryError  # noqa: E402

REDIS_URL = os.environ.get("FERRY_TEST_REDIS_URL", "redis://127.0.0.1:16379/0")
FERRY = os.environ.get("FERRY_TEST_FERRY_BIN", os.path.join(os.path.dirname(__file__), "../../../.build/debug/ferry"))


class ClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.namespace = "py-" + uuid.uuid4().hex[:8]
        cls.env = dict(os.environ, FERRY_REDIS_URL=REDIS_URL, FERRY_NAMESPACE=cls.namespace)
        cls.jobs = os.path.join("/tmp", cls.namespace)
        os.makedirs(cls.jobs)
        with open(os.path.join(cls.jobs, "ferry.fail.yml"), "w") as f:
            f.write("max_attempts: 1\n")
        cls.worker = subprocess.Popen([FERRY, "worker", "--concurrency", "4", "--jobs-dir", cls.jobs], env=cls.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.ferry = Ferry(REDIS_URL, namespace=cls.namespace)

    @classmethod
    def tearDownClass(cls):
        cls.worker.terminate()
        cls.worker.wait(timeout=30)
        shutil.rmtree(cls.jobs, ignore_errors=True)

    def test_a_job_runs_and_its_result_is_waited_for(self):
        job_id = self.ferry.enqueue("ferry.echo", {"text": "héllo", "n": [1, 2.5, None]})
        record = self.ferry.result(job_id, timeout=30)
        self.assertIsNotNone(record)
        self.assertTrue(record.succeeded)
        self.assertEqual(record.result, {"echo": {"text": "héllo", "n": [1, 2.5, None]}})
        self.assertEqual(record.type, "ferry.echo")

    def test_a_job_without_a_result_is_seen_to_end_when_it_keeps_a_record(self):
        kept = self.ferry.enqueue("ferry.noop", keep_record=True)
        record = self.ferry.result(kept, timeout=30)
        self.assertTrue(record and record.succeeded and record.result is None)
        plain = self.ferry.enqueue("ferry.noop")
        self.assertIsNone(self.ferry.result(plain, timeout=1))

    def test_a_failing_job_ends_dead_with_its_error(self):
        record = self.ferry.result(self.ferry.enqueue("ferry.fail", {"message": "no luck"}, max_attempts=1), timeout=30)
        self.assertEqual(record.status, "dead")
        self.assertIn("no luck", record.error["message"])

    def test_a_delayed_job_waits_and_is_found_by_id(self):
        started = time.time()
        job_id = self.ferry.enqueue("ferry.echo", {"later": True}, run_in=1.5)
        shown = json.loads(subprocess.run([FERRY, "job", job_id], env=self.env, capture_output=True, text=True).stdout)
        self.assertEqual(shown["state"], "scheduled")
        record = self.ferry.result(job_id, timeout=30)
        self.assertTrue(record.succeeded)
        self.assertGreaterEqual(time.time() - started, 1.4)

    def test_many_jobs_go_in_one_round_trip(self):
        ids = self.ferry.enqueue_many([("ferry.echo", {"i": i}) for i in range(200)])
        self.assertEqual(len(set(ids)), 200)
        results = [self.ferry.result(job_id, timeout=30) for job_id in ids]
        self.assertEqual([r.result["echo"]["i"] for r in results], list(range(200)))

    def test_a_unique_key_holds_while_its_job_waits_or_runs_and_is_freed_when_it_ends(self):
        key = "digest-" + uuid.uuid4().hex[:6]
        first = self.ferry.enqueue("ferry.sleep", {"ms": 1500}, unique_key=key, keep_record=True)
        self.assertEqual(self.ferry.enqueue("ferry.sleep", {"ms": 1}, unique_key=key), first)
        # Ferry's own dispatcher sees the same key as held (one contract for every client).
        shown = subprocess.run([FERRY, "enqueue", "ferry.sleep", "--args", '{"ms": 1}', "--unique", key], env=self.env,
                               capture_output=True, text=True)
        self.assertEqual(shown.stdout.strip(), first, shown.stderr)
        other = "other-" + uuid.uuid4().hex[:6]
        ids = self.ferry.enqueue_many([self.ferry.job("ferry.sleep", {"ms": 1}, unique_key=key), ("ferry.echo", {"n": 1}),
                                       self.ferry.job("ferry.echo", {"n": 2}, unique_key=other, run_in=0.5),
                                       self.ferry.job("ferry.echo", {"n": 3}, unique_key=other)])
        self.assertEqual(ids[0], first)
        self.assertEqual(ids[3], ids[2])
        self.assertEqual(len({first, ids[1], ids[2]}), 3)
        self.assertEqual(self.ferry.result(ids[2], timeout=30).result, {"echo": {"n": 2}})
        self.assertTrue(self.ferry.result(first, timeout=30).succeeded)
        again = self.ferry.enqueue("ferry.echo", {"n": 4}, unique_key=key)
        self.assertNotEqual(again, first)
        self.assertEqual(self.ferry.result(again, timeout=30).result, {"echo": {"n": 4}})

    def test_bad_jobs_are_refused_before_anything_is_written(self):
        cases = [
            (lambda: self.ferry.enqueue("bad type!"), "job type"),
            (lambda: self.ferry.enqueue("ferry.echo", [1, 2]), "must be a mapping"),
            (lambda: self.ferry.enqueue("ferry.echo", queue="a:b"), "queue"),
            (lambda: self.ferry.enqueue("ferry.echo", {"x": float("nan")}), "not JSON"),
            (lambda: self.ferry.enqueue("ferry.echo", {"x": object()}), "not JSON"),
            (lambda: self.ferry.enqueue("ferry.echo", {"x": "y" * 600_000}), "the limit is 524288"),
            (lambda: self.ferry.enqueue("ferry.echo", max_attempts=0), "max_attempts"),
            (lambda: self.ferry.enqueue("ferry.echo", run_in=1, run_at=2), "not both"),
            (lambda: self.ferry.enqueue("ferry.echo", run_in=-5), "run_in"),
            (lambda: self.ferry.enqueue("ferry.echo", timeout=float("inf")), "timeout"),
            (lambda: self.ferry.enqueue_many([("ferry.echo", {}), ("bad type!", {})]), "job type"),
            (lambda: self.ferry.enqueue("ferry.echo", unique_key=""), "unique_key"),
            (lambda: self.ferry.enqueue("ferry.echo", unique_key="é" * 101), "unique_key"),
            (lambda: self.ferry.enqueue("ferry.echo", unique_key="k", unique_for=0), "unique_for"),
        ]
        before = self.ferry.redis.llen(f"{self.namespace}:{{default}}:ready")
        for call, reason in cases:
            with self.assertRaises(FerryError) as raised:
                call()
            self.assertIn(reason, str(raised.exception))
        self.assertEqual(self.ferry.redis.llen(f"{self.namespace}:{{default}}:ready"), before)


if __name__ == "__main__":
    unittest.main()
