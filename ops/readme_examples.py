#!/usr/bin/env python3
"""Runs the README's examples as written, so that the documentation cannot drift from the code.

Called by ops/examples after it has built Examples/Greetings with the README's Swift blocks
extracted into it (`extract`), then (`run`) against a Redis of the test services:

- the Swift enqueue snippet (a program of its own) and the Python snippet enqueue their jobs;
  they are found where the README says they go;
- the shell block's `curl` and `ferry` lines run in a directory holding
  `.ferry/services/secrets/admin.token` (where `ferry up` keeps it), against `ferry admin` and
  `ferry worker`; `ferry job ID` gets the id the line above printed;
- the app of "Write a job" runs its worker, and `enqueue welcome.send … --wait` gets its greeting.

Only what points at the author's machine is replaced by the local stand-in: the Redis URL and
the admin port. Everything runs in a Redis database of its own (15), emptied before and after.

    readme_examples.py extract README.md Examples/Greetings
    readme_examples.py run --ferry .build/debug/ferry --example-bin Examples/Greetings/.build/debug
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

# The README's Swift blocks, in order, and the example targets they become.
SWIFT_TARGETS = ["ReadmeEnqueue", "ReadmeApp"]
DATABASE = 15


def blocks(markdown, language):
    return re.findall(r"^```" + language + r"\n(.*?)^```", markdown, re.S | re.M)


def fail(message):
    print(f"README example failed: {message}", file=sys.stderr)
    sys.exit(1)


def extract(readme, package):
    swift = blocks(open(readme).read(), "swift")
    if len(swift) != len(SWIFT_TARGETS):
        fail(f"{readme} has {len(swift)} Swift blocks; ops/readme_examples.py expects {len(SWIFT_TARGETS)} ({', '.join(SWIFT_TARGETS)})")
    for target, code in zip(SWIFT_TARGETS, swift):
        # The author's Redis becomes the one the harness names (the program's first argument).
        code = code.replace('"redis://127.0.0.1:6379"', '(CommandLine.arguments.dropFirst().first ?? "redis://127.0.0.1:6379")')
        directory = os.path.join(package, "Sources", target)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "main.swift"), "w") as f:
            f.write(f"// Extracted from {os.path.basename(readme)} by ops/readme_examples.py: edit the README, not this file.\n")
            f.write(code)


def redis_url(base):
    """The test Redis, in a database of its own."""
    return re.sub(r"(/\d+)?$", f"/{DATABASE}", base.rstrip("/"), count=1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session:
    def __init__(self, ferry, example_bin, readme):
        self.ferry = os.path.abspath(ferry)
        self.example_bin = os.path.abspath(example_bin)
        self.readme = open(readme).read()
        self.url = redis_url(os.environ["FERRY_REDIS_URL"])
        self.home = tempfile.mkdtemp(prefix="ferry-readme-")
        self.processes = []
        # `ferry` on the PATH, as the README assumes (`export PATH="$PWD/.build/release:$PATH"`).
        self.path_dir = os.path.join(self.home, "bin")
        os.makedirs(self.path_dir)
        os.symlink(self.ferry, os.path.join(self.path_dir, "ferry"))
        self.env = dict(os.environ, FERRY_REDIS_URL=self.url, FERRY_NAMESPACE="ferry", PATH=self.path_dir + ":" + os.environ["PATH"])
        for name in ["DATABASE_URL", "SMTP_URL", "FERRY_ADMIN_TOKEN", "ANTHROPIC_API_KEY", "FERRY_TEST_JOBS", "FERRY_ADMIN_ADDR"]:
            self.env.pop(name, None)

    def flush(self):
        import redis  # redis-py, installed by ops/setup
        redis.from_url(self.url).flushdb()

    def start(self, command, **extra):
        process = subprocess.Popen(command, env=dict(self.env, **extra), cwd=self.home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.processes.append(process)
        return process

    def stop_all(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes = []

    def run(self, command, check=True, **extra):
        done = subprocess.run(command, env=dict(self.env, **extra), cwd=self.home, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            fail(f"{command if isinstance(command, str) else ' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def job(self, job_id):
        done = subprocess.run([self.ferry, "job", job_id], env=self.env, cwd=self.home, capture_output=True, text=True, timeout=60)
        try:
            return json.loads(done.stdout)
        except ValueError:
            fail(f"ferry job {job_id} does not find the job: {done.stdout}{done.stderr}")

    def queue_ready(self, queue):
        stats = json.loads(self.run([self.ferry, "stats", "--json"]))
        return stats["queues"].get(queue, {}).get("ready", 0)

    # The Swift enqueue snippet: typed enqueues of Ferry's own jobs.
    def swift_enqueue(self):
        self.flush()
        self.run([os.path.join(self.example_bin, "readme-enqueue"), self.url])
        mail = self.queue_ready("mail")
        if mail != 3:
            fail(f"the Swift snippet should have put 3 email.send jobs in the mail queue, found {mail}")
        print("README Swift enqueue snippet: ran; 3 mails queued")

    # The Python snippet: the wire format written by hand.
    def python(self):
        self.flush()
        code = blocks(self.readme, "python")
        if len(code) != 1:
            fail(f"expected one Python block, found {len(code)}")
        # The snippet's Redis on the author's machine becomes the test one.
        prelude = f"import redis\n_url = {self.url!r}\nredis.Redis = lambda *a, **k: redis.from_url(_url)\n"
        ids = [line for line in self.run([sys.executable, "-c", prelude + code[0] + "\nprint(job['id'])\n"]).split() if line]
        shown = self.job(ids[-1])
        if shown.get("state") != "ready" or shown.get("job", {}).get("type") != "email.send":
            fail(f"the Python snippet's job is not ready in its queue: {shown}")
        print("README Python snippet: ran; its job is ready in the mail queue")

    # The shell block after the Python one: curl, ferry enqueue --wait, ferry job.
    def shell(self):
        self.flush()
        port = free_port()
        token = "readme-" + os.urandom(12).hex()
        secrets = os.path.join(self.home, ".ferry", "services", "secrets")
        os.makedirs(secrets, exist_ok=True)
        with open(os.path.join(secrets, "admin.token"), "w") as f:
            f.write(token)
        os.chmod(os.path.join(secrets, "admin.token"), 0o600)
        self.start([self.ferry, "admin"], FERRY_ADMIN_ADDR=f"127.0.0.1:{port}", FERRY_ADMIN_TOKEN=token)
        self.start([self.ferry, "worker", "--queues", "default", "--concurrency", "2"])
        for _ in range(200):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        shell = [code for code in blocks(self.readme, "sh") if "curl" in code]
        if len(shell) != 1:
            fail("expected one shell block with curl")
        printed_id = None
        for line in shell[0].replace("\\\n", " ").splitlines():
            command = line.split("  #")[0].strip()
            if not command:
                continue
            command = command.replace("127.0.0.1:7480", f"127.0.0.1:{port}")
            if command.endswith(" ID"):
                if not printed_id:
                    fail(f"'{command}' needs the id an earlier line printed")
                command = command[: -len("ID")] + printed_id
            output = self.run(["bash", "-c", command])
            if command.startswith("curl"):
                if '"id"' not in output:
                    fail(f"{command} did not answer with an id: {output}")
            elif command.startswith("ferry enqueue"):
                printed_id = output.split()[0]
                if '"hello" : "world"' not in output:
                    fail(f"{command} did not print the job's result: {output}")
            elif command.startswith("ferry job"):
                if json.loads(output).get("state") != "succeeded":
                    fail(f"{command} does not show a finished job: {output}")
            print(f"README shell line ran: {command.split(' --')[0]}")
        self.stop_all()

    # "Write a job": the whole app, its worker and an enqueue that waits for the greeting.
    def app(self):
        self.flush()
        app = os.path.join(self.example_bin, "readme-app")
        self.start([app, "worker"])
        output = self.run([app, "enqueue", "welcome.send", "--args", '{"name": "Ada"}', "--wait", "30s"])
        if '"greeting" : "Hello, Ada!"' not in output:
            fail(f"the README's app did not greet Ada: {output}")
        self.stop_all()
        print("README app: its worker ran welcome.send and greeted Ada")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    extract_parser = sub.add_parser("extract")
    extract_parser.add_argument("readme")
    extract_parser.add_argument("package")
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--ferry", required=True)
    run_parser.add_argument("--example-bin", required=True)
    run_parser.add_argument("--readme", default=os.path.join(os.path.dirname(__file__), "..", "README.md"))
    args = parser.parse_args()
    if args.command == "extract":
        extract(args.readme, args.package)
        return
    session = Session(args.ferry, args.example_bin, args.readme)
    try:
        session.swift_enqueue()
        session.python()
        session.shell()
        session.app()
    finally:
        session.stop_all()
        session.flush()


if __name__ == "__main__":
    main()
