#!/usr/bin/env python3
"""Runs the examples of the README and docs/ as written, so that the documentation cannot drift
from the code.

Every fenced block of README.md and docs/*.md is listed in BLOCKS, in order, with how it is
checked: run here, checked by a named Swift test, or excused with the reason. A block added,
removed or moved without its line in BLOCKS fails the run, so no example goes unchecked.

Called by ops/examples: `extract` writes the Swift blocks into the example package
(Examples/Greetings): the README's two programs as targets of their own, the blocks of
docs/writing-jobs.md as `Sources/DocExamples/Extracted.swift` (declarations as written, blocks of
statements as methods of `DocScope`, run by `doc-examples snippet NAME`). After the package is
built, `run` runs every block marked "run" against the test services:

- Swift and Python snippets enqueue their jobs; they are found where the text says they go;
- shell blocks run in a directory holding `.ferry/services/secrets/admin.token` (where `ferry up`
  keeps it) and `jobs/` (the checkout's), with `ferry` on the PATH, against `ferry admin` and
  `ferry worker`; what they print and what their jobs did is checked;
- the apps of "Write a job" and of docs/writing-jobs.md run their workers, and the jobs the
  snippets enqueue run to their end: results waited for, batches completed with their callbacks,
  chains passing results on, mail delivered, dead jobs retried.

Only what points at the author's machine is replaced by the local stand-ins: the Redis URL (a
database of its own, 15, emptied before and after), the PostgreSQL URL, the HTTP service and the
SMTP relay, the admin port.

    doc_examples.py extract Examples/Greetings
    doc_examples.py run --ferry .build/debug/ferry --example-bin Examples/Greetings/.build/debug
"""
import argparse
import email
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DATABASE = 15
UP_AND_TEST = ("ops/test is the command that runs this harness; ops/up builds a release and runs `ferry up` "
               "until Ctrl-C, and `ferry up` is run by FerryCLITests/UpTests")

# Every fenced block, in order: (language, how, what). how is "run" (a stage of Session or a Swift
# block of the example package), "test" (the Swift test file that reads the block) or "excused".
BLOCKS = {
    "README.md": [
        ("sh", "excused", UP_AND_TEST),
        ("swift", "run", "ReadmeEnqueue"),
        ("python", "run", "readme_python"),
        ("ruby", "run", "readme_ruby"),
        ("python", "run", "readme_celery"),
        ("sh", "run", "readme_shell"),
        ("swift", "run", "ReadmeApp"),
        ("", "run", "readme_tree"),
    ],
    "docs/celery.md": [
        ("sh", "run", "celery_worker"),       # started by celery_python
        ("python", "run", "celery_python"),
    ],
    "docs/jobs.md": [
        ("csv", "test", "Tests/FerryJobsTests/DocumentedExamplesTests.swift"),
        ("yaml", "test", "Tests/FerryJobsTests/ImportProfileTests.swift"),
        ("sh", "run", "anonymize_shell"),
        ("sh", "run", "email_shell"),
    ],
    "docs/operations.md": [
        ("sh", "excused", UP_AND_TEST),
        ("yaml", "test", "Tests/FerryJobsTests/DocumentedExamplesTests.swift"),
    ],
    "docs/performance.md": [],
    "docs/wire-format.md": [
        ("json", "test", "Tests/FerryJobsTests/DocumentedExamplesTests.swift"),
        ("python", "run", "wire_python"),
    ],
    "docs/writing-jobs.md": [
        ("swift", "run", "declaration"),      # CountVisit, run by the docs app's worker
        ("swift", "run", "results"),
        ("yaml", "test", "Tests/FerryJobsTests/DocumentedExamplesTests.swift"),
        ("swift", "run", "batches"),
        ("swift", "run", "declaration"),      # ExportChunk, the batch's jobs
        ("swift", "run", "chain"),
        ("swift", "run", "queueAdmin"),
        ("swift", "run", "clients"),
    ],
}

# Addresses of the author's machine in docs/writing-jobs.md, and what DocScope gives instead.
DOC_SCOPE_ADDRESSES = {
    '"redis://127.0.0.1:6379"': "redisURL",
    '"postgres://app@127.0.0.1:5432/app"': "databaseURL",
    '"smtp://127.0.0.1:25"': "smtpURL",
    '"https://api.example.com': '"\\(httpURL)',
}


def fail(message):
    print(f"documentation example failed: {message}", file=sys.stderr)
    sys.exit(1)


def fenced(markdown):
    """Every fenced block: (language, code, line number of its opening fence)."""
    found, lines, index = [], markdown.split("\n"), 0
    while index < len(lines):
        opening = re.match(r"^```(\S*)\s*$", lines[index])
        if opening:
            end = index + 1
            while end < len(lines) and lines[end] != "```":
                end += 1
            if end == len(lines):
                fail(f"the block opened on line {index + 1} is never closed")
            found.append((opening.group(1), "\n".join(lines[index + 1:end]) + "\n", index + 1))
            index = end
        index += 1
    return found


def inventory():
    """The blocks of every Markdown file, checked against BLOCKS: {path: [(language, how, what, code)]}."""
    files = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    result = {}
    for path in files:
        if path not in BLOCKS:
            fail(f"{path} is not listed in BLOCKS of ops/doc_examples.py: list its blocks and how each is checked")
        blocks = fenced(open(os.path.join(ROOT, path)).read())
        listed = BLOCKS[path]
        actual = [language for language, _, _ in blocks]
        if actual != [language for language, _, _ in listed]:
            fail(f"{path} has blocks {actual} (lines {[line for _, _, line in blocks]}); ops/doc_examples.py lists "
                 f"{[language for language, _, _ in listed]}: say in BLOCKS how each new or moved block is checked")
        for (language, how, what), (_, code, line) in zip(listed, blocks):
            if how == "test":
                test = open(os.path.join(ROOT, what)).read()
                if path not in test:
                    fail(f"{path} line {line}: {what} is said to check this block but never reads {path}")
        result[path] = [(language, how, what, code) for (language, how, what), (_, code, _) in zip(listed, blocks)]
    for path in BLOCKS:
        if path not in result:
            fail(f"BLOCKS lists {path}, which does not exist")
    return result


def extract(package):
    blocks = inventory()
    readme = [code for language, how, what, code in blocks["README.md"] if language == "swift"]
    for target, code in zip(["ReadmeEnqueue", "ReadmeApp"], readme):
        # The author's Redis becomes the one the harness names (the program's first argument).
        code = code.replace('"redis://127.0.0.1:6379"', '(CommandLine.arguments.dropFirst().first ?? "redis://127.0.0.1:6379")')
        write(os.path.join(package, "Sources", target, "main.swift"), "README.md", code)

    declarations, methods = [], []
    for language, how, what, code in blocks["docs/writing-jobs.md"]:
        if language != "swift":
            continue
        if what == "declaration":
            declarations.append(code)
            continue
        for address, replacement in DOC_SCOPE_ADDRESSES.items():
            code = code.replace(address, replacement)
        body = "".join("        " + line if line.strip() else line for line in code.splitlines(True))
        methods.append((what, f"    func {what}() throws {{\n{body}    }}\n"))
    table = ",\n".join(f'        "{name}": {{ try $0.{name}() }}' for name, _ in methods)
    source = ("import Ferry\nimport FerryHTTP\nimport FerryPostgres\nimport FerryQueue\nimport FerryRedis\nimport Foundation\n\n"
              + "\n".join(declarations)
              + "\nextension DocScope {\n" + "\n".join(method for _, method in methods)
              + f"\n    static let snippets: [String: @Sendable (DocScope) throws -> Void] = [\n{table},\n    ]\n}}\n")
    write(os.path.join(package, "Sources", "DocExamples", "Extracted.swift"), "docs/writing-jobs.md", source)


def write(path, markdown, code):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = f"// Extracted from {markdown} by ops/doc_examples.py: edit the Markdown, not this file.\n" + code
    if os.path.exists(path) and open(path).read() == text:
        return   # unchanged: keep the build incremental
    with open(path, "w") as f:
        f.write(text)


def redis_url(base):
    """The test Redis, in a database of its own."""
    return re.sub(r"(/\d+)?$", f"/{DATABASE}", base.rstrip("/"), count=1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session:
    def __init__(self, ferry, example_bin):
        self.blocks = inventory()
        self.ferry = os.path.abspath(ferry)
        self.example_bin = os.path.abspath(example_bin)
        self.url = redis_url(os.environ["FERRY_REDIS_URL"])
        # A database of its own, made afresh: the examples migrate it and write to it.
        self.server_url = os.environ["DATABASE_URL"]
        self.database_url = urllib.parse.urlsplit(self.server_url)._replace(path="/ferry_docs").geturl()
        self.psql("DROP DATABASE IF EXISTS ferry_docs WITH (FORCE)", url=self.server_url)
        self.psql("CREATE DATABASE ferry_docs", url=self.server_url)
        self.smtp_url = os.environ["FERRY_TEST_SMTP_URL"]
        self.mail_dir = os.environ["FERRY_TEST_MAIL_DIR"]
        self.http_url = os.environ["FERRY_TEST_HTTP_URL"]
        self.home = tempfile.mkdtemp(prefix="ferry-docs-")
        self.processes = []
        # `ferry` on the PATH, as the README assumes (`export PATH="$PWD/.build/release:$PATH"`),
        # and the checkout's job settings and templates where `ferry` looks for them.
        self.path_dir = os.path.join(self.home, "bin")
        os.makedirs(self.path_dir)
        os.symlink(self.ferry, os.path.join(self.path_dir, "ferry"))
        os.symlink(os.path.join(ROOT, "jobs"), os.path.join(self.home, "jobs"))
        self.token = "docs-" + os.urandom(12).hex()
        secrets = os.path.join(self.home, ".ferry", "services", "secrets")
        os.makedirs(secrets)
        with open(os.path.join(secrets, "admin.token"), "w") as f:
            f.write(self.token)
        os.chmod(os.path.join(secrets, "admin.token"), 0o600)
        self.env = dict(os.environ, FERRY_REDIS_URL=self.url, FERRY_NAMESPACE="ferry", PATH=self.path_dir + ":" + os.environ["PATH"])
        for name in ["DATABASE_URL", "SMTP_URL", "FERRY_ADMIN_TOKEN", "ANTHROPIC_API_KEY", "FERRY_TEST_JOBS", "FERRY_ADMIN_ADDR"]:
            self.env.pop(name, None)

    def code(self, path, what):
        return next(code for _, how, name, code in self.blocks[path] if name == what)

    def flush(self):
        import redis  # redis-py, installed by ops/setup
        redis.from_url(self.url).flushdb()

    def redis(self):
        import redis
        return redis.from_url(self.url, decode_responses=True)

    def start(self, command, **extra):
        log = open(os.path.join(self.home, f"process-{len(self.processes)}.log"), "w")
        process = subprocess.Popen(command, env=dict(self.env, **extra), cwd=self.home, stdout=log, stderr=subprocess.STDOUT, text=True)
        process.log = log.name
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

    def logs(self):
        return "".join(f"\n--- {process.args[0]} {process.args[1] if len(process.args) > 1 else ''}:\n" + open(process.log).read()[-3000:]
                       for process in self.processes)

    def run(self, command, check=True, **extra):
        done = subprocess.run(command, env=dict(self.env, **extra), cwd=self.home, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            fail(f"{command if isinstance(command, str) else ' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}{self.logs()}")
        return done.stdout

    def job(self, job_id, ferry=None, wait=None):
        command = [ferry or self.ferry, "job", job_id] + (["--wait", wait] if wait else [])
        done = subprocess.run(command, env=self.env, cwd=self.home, capture_output=True, text=True, timeout=90)
        try:
            return json.loads(done.stdout)
        except ValueError:
            fail(f"{' '.join(command)} does not find the job: {done.stdout}{done.stderr}{self.logs()}")

    def stats(self):
        return json.loads(self.run([self.ferry, "stats", "--json"]))["queues"]

    def admin(self, **extra):
        port = free_port()
        self.start([self.ferry, "admin"], FERRY_ADMIN_ADDR=f"127.0.0.1:{port}", FERRY_ADMIN_TOKEN=self.token, **extra)
        for _ in range(300):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200:
                    return port
            except OSError:
                time.sleep(0.1)
        fail(f"ferry admin did not answer on port {port}{self.logs()}")

    def eventually(self, what, probe, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.2)
        fail(f"{what}: not within {timeout} s{self.logs()}")

    def mail(self, address, marker, since):
        """The text of a message to `address` containing `marker`, delivered to the SMTP stand-in after `since`."""
        def probe():
            for path in sorted(glob.glob(os.path.join(self.mail_dir, "*.eml"))):
                if os.path.getmtime(path) >= since:
                    message = email.message_from_binary_file(open(path, "rb"))
                    text = "".join(f"{name}: {value}\n" for name, value in message.items())
                    for part in message.walk():
                        if part.get_content_maintype() == "text":
                            text += part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8", "replace")
                    if address in message.get("To", "") and marker in text:
                        return text
            return None
        return probe

    def shell(self, code, port=None):
        """Runs a shell block as one script, as a reader would paste it."""
        if port:
            code = code.replace("127.0.0.1:7480", f"127.0.0.1:{port}").replace("localhost:7480", f"127.0.0.1:{port}")
        return self.run(["bash", "-euo", "pipefail", "-c", code])

    def migrate(self):
        """The tables of Ferry's jobs, as `ferry up` (ops/up) leaves them."""
        self.run([self.ferry, "migrate"], DATABASE_URL=self.database_url)

    def psql(self, sql, url=None):
        done = subprocess.run(["psql", "-X", "-d", url or self.database_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True,
                              env=dict(os.environ, PGOPTIONS="--client-min-messages=warning"))
        if done.returncode != 0:
            fail(f"psql: {sql[:200]}: {done.stderr.strip()}")   # not the URL: it holds the password
        return done.stdout

    # README: the Swift enqueue snippet, typed enqueues of Ferry's own jobs.
    def readme_enqueue(self):
        self.flush()
        self.run([os.path.join(self.example_bin, "readme-enqueue"), self.url])
        mail = self.stats().get("mail", {}).get("ready", 0)
        if mail != 3:
            fail(f"the README's Swift snippet should have put 3 email.send jobs in the mail queue, found {mail}")
        print("README Swift enqueue snippet: ran; 3 mails queued")

    # README: the Python client (clients/python, as `pip install ./clients/python` leaves it).
    def readme_python(self):
        self.flush()
        self.start([self.ferry, "worker", "--queues", "default", "--concurrency", "2"])
        code = self.code("README.md", "readme_python").replace('"redis://127.0.0.1:6379/0"', repr(self.url))
        output = self.run([sys.executable, "-c", code], PYTHONPATH=os.path.join(ROOT, "clients", "python"))
        if "{'echo': {'hello': 'world'}}" not in output:
            fail(f"the README's Python block should print ferry.echo's result: {output}{self.logs()}")
        scheduled = self.redis().zrange("ferry:{mail}:scheduled", 0, -1)
        if len(scheduled) != 1 or json.loads(scheduled[0])["type"] != "email.send" or self.job(json.loads(scheduled[0])["id"]).get("state") != "scheduled":
            fail(f"the README's Python block should leave one email.send scheduled in the mail queue: {scheduled}")
        self.stop_all()
        print("README Python block: ran; ferry.echo's result came back, a mail is scheduled")

    # README: the wire format written by hand, from Ruby (redis-rb).
    def readme_ruby(self):
        self.flush()
        code = self.code("README.md", "readme_ruby").replace('"redis://127.0.0.1:6379/0"', json.dumps(self.url))
        self.run(["ruby", "-e", code])
        ready = self.redis().lrange("ferry:{mail}:ready", 0, -1)
        if len(ready) != 1:
            fail(f"the README's Ruby block should leave one job in the mail queue, found {len(ready)}")
        shown = self.job(json.loads(ready[0])["id"])
        if shown.get("state") != "ready" or shown.get("job", {}).get("type") != "email.send" or shown["job"]["args"]["vars"]["name"] != "Ada":
            fail(f"the README's Ruby job is not read as Ferry's: {shown}")
        print("README Ruby block: ran; its job is ready in the mail queue, read as Ferry's own")

    # README: an API tier's Celery calls (the real Celery client), run by `ferry worker --celery-queues celery`.
    def readme_celery(self):
        self.flush()
        self.start([self.ferry, "worker", "--queues", "default", "--concurrency", "2", "--celery-queues", "celery"])
        python = os.path.join(ROOT, ".ferry", "celery-venv", "bin", "python")   # celery 5.7.0 (ops/setup)
        code = self.code("README.md", "readme_celery").replace('"redis://127.0.0.1:6379/0"', repr(self.url))
        output = self.run([python, "-c", code])
        if "{'echo': {'hello': 'celery'}}" not in output:
            fail(f"the README's Celery block should print ferry.echo's result: {output}{self.logs()}")
        ready = self.eventually("the signup's email.send in the mail queue", lambda: self.redis().lrange("ferry:{mail}:ready", 0, -1))
        job = json.loads(ready[0])
        if len(ready) != 1 or job["type"] != "email.send" or job["args"] != {"to": "ada@example.com", "template": "welcome"} \
                or job.get("origin", {}).get("task") != "email.send" or self.job(job["id"]).get("state") != "ready":
            fail(f"the signup's .delay() should leave one email.send from Celery ready in the mail queue: {ready}")
        self.stop_all()
        print("README Celery block: ran; ferry.echo's result came back through Celery's client, the signup's mail is queued")

    # README: curl, ferry enqueue --wait, ferry job, line by line (the last needs the id printed).
    def readme_shell(self):
        self.flush()
        port = self.admin()
        self.start([self.ferry, "worker", "--queues", "default", "--concurrency", "2"])
        printed_id = None
        for line in self.code("README.md", "readme_shell").replace("\\\n", " ").splitlines():
            command = line.split("  #")[0].strip()
            if not command:
                continue
            if command.endswith(" ID"):
                if not printed_id:
                    fail(f"'{command}' needs the id an earlier line printed")
                command = command[: -len("ID")] + printed_id
            output = self.shell(command, port)
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

    # README: "Write a job", the whole app, its worker and an enqueue that waits for the greeting.
    def readme_app(self):
        self.flush()
        app = os.path.join(self.example_bin, "readme-app")
        self.start([app, "worker"])
        output = self.run([app, "enqueue", "welcome.send", "--args", '{"name": "Ada"}', "--wait", "30s"])
        if '"greeting" : "Hello, Ada!"' not in output:
            fail(f"the README's app did not greet Ada: {output}")
        self.stop_all()
        print("README app: its worker ran welcome.send and greeted Ada")

    # README: the layout of the tree; every folder it names exists, every target it names is declared.
    def readme_tree(self):
        package = open(os.path.join(ROOT, "Package.swift")).read()
        parent = None
        for line in self.code("README.md", "readme_tree").splitlines():
            name, _, rest = line.strip().partition(" ")
            folder = os.path.join(parent, name) if line.startswith("  ") else name
            if not os.path.exists(os.path.join(ROOT, folder)):
                fail(f"the README's tree names {folder}, which does not exist")
            if not line.startswith("  "):
                parent = name
                continue
            for target in re.split(r"[,;]", re.sub(r"\([^)]*\)", "", rest).split(":")[0]):
                target = target.strip()
                if re.fullmatch(r"[A-Z]\w+", target) and f'name: "{target}"' not in package:
                    fail(f"the README's tree names the target {target}, which Package.swift does not declare")
        print("README tree: every folder exists and every target is declared")

    # docs/wire-format.md: the Python enqueue, now and later.
    def wire_python(self):
        self.flush()
        prelude = f"import redis\n_url = {self.url!r}\nredis.Redis = lambda *a, **k: redis.from_url(_url)\n"
        self.run([sys.executable, "-c", prelude + self.code("docs/wire-format.md", "wire_python")])
        stats = self.stats()
        if stats.get("mail", {}).get("ready") != 1 or stats.get("maintenance", {}).get("scheduled") != 1:
            fail(f"the wire format's Python block should leave one ready job in mail and one scheduled in maintenance: {stats}")
        scheduled = self.redis().zrange("ferry:{maintenance}:scheduled", 0, -1)
        shown = self.job(json.loads(scheduled[0])["id"])
        if shown.get("state") != "scheduled" or shown.get("job", {}).get("type") != "stories.expire":
            fail(f"the wire format's delayed job is not found by its id: {shown}")
        print("docs/wire-format.md Python block: ran; a ready job, and a delayed one found by its id")

    # docs/celery.md: a Celery app's calls, run by `ferry worker --celery-queues celery`.
    def celery_python(self):
        self.flush()
        command = self.code("docs/celery.md", "celery_worker").split("#")[0].split()
        if command[:2] != ["ferry", "worker"]:
            fail(f"docs/celery.md's shell block should start a worker: {command}")
        self.start([self.ferry] + command[1:])
        python = os.path.join(ROOT, ".ferry", "celery-venv", "bin", "python")   # the real Celery client (ops/setup)
        code = self.code("docs/celery.md", "celery_python").replace('"redis://127.0.0.1:6379/0"', repr(self.url))
        output = self.run([python, "-c", code])
        if "{'echo': {'hello': 'world'}}" not in output:
            fail(f"the Celery block should print ferry.echo's result: {output}{self.logs()}")
        scheduled = self.eventually("the countdown task scheduled in the mail queue",
                                    lambda: self.redis().zrange("ferry:{mail}:scheduled", 0, -1))
        job = json.loads(scheduled[0])
        if job["type"] != "email.send" or job["args"].get("to") != "ada@example.com" or job.get("origin", {}).get("protocol") != "celery":
            fail(f"the countdown task did not become a scheduled email.send: {job}")
        if self.job(job["id"]).get("state") != "scheduled":
            fail(f"ferry job does not find the Celery task {job['id']}")
        self.stop_all()
        print("docs/celery.md blocks: ran; a Celery client's task ran on Ferry and its result came back, a countdown task is scheduled")

    # docs/jobs.md: the anonymizer's commands, over a table and a file of the reader's.
    def anonymize_shell(self):
        self.flush()
        self.migrate()
        # Posts of the social app's schema (Ferry's migrations), by a user of the harness's own.
        self.psql("WITH u AS (INSERT INTO users (handle) VALUES ('docs-examples') RETURNING id) INSERT INTO posts (user_id, body) "
                  "SELECT id, body FROM u, (VALUES ('Hello from Anna Schmidt: mail anna.schmidt@example.de or call +49 30 12345678'),"
                  "('Nothing personal here'), ('Paid with 4111 1111 1111 1111')) AS b (body)")
        os.makedirs(os.path.join(self.home, "exports"), exist_ok=True)
        with open(os.path.join(self.home, "exports", "comments.jsonl"), "w") as f:
            f.write(json.dumps({"id": 1, "text": "Write to grace.hopper@example.com"}) + "\n")
            f.write(json.dumps({"id": 2, "text": "My IBAN is DE89 3704 0044 0532 0130 00"}) + "\n")
        keys = {"FERRY_ANONYMIZE_HASH_KEY": os.urandom(16).hex(), "FERRY_ANONYMIZE_AES_KEY": os.urandom(16).hex()}
        self.env.update(keys)
        extra = dict(DATABASE_URL=self.database_url, FERRY_IMPORT_ROOT=self.home)
        port = self.admin(**extra)
        earlier = max([run["run_id"] for run in json.loads(self.run([self.ferry, "anonymize", "runs"], **extra))], default=0)
        self.start([self.ferry, "worker", "--concurrency", "2"], **extra)
        output = self.run(["bash", "-euo", "pipefail", "-c", self.code("docs/jobs.md", "anonymize_shell").replace("127.0.0.1:7480", f"127.0.0.1:{port}")], **extra)
        for secret in ["Anna Schmidt", "12345678", "John Smith", "212-555-0199"]:
            if secret in output:
                fail(f"the anonymizer's shell block printed '{secret}' unchanged:\n{output}")
        if '"text"' not in output or "<PERSON>" not in output:
            fail(f"the anonymizer's spot check and API call should print anonymized text:\n{output}")

        def finished():
            runs = [run for run in json.loads(self.run([self.ferry, "anonymize", "runs"], **extra)) if run["run_id"] > earlier]
            return len(runs) == 2 and all(run.get("status") == "succeeded" for run in runs) and runs
        runs = self.eventually("both anonymize.batch runs finishing", finished)
        public = self.psql("SELECT body FROM posts_public ORDER BY id")
        anonymized = open(os.path.join(self.home, "exports", "comments.anon.jsonl")).read()
        for secret in ["Anna Schmidt", "12345678", "anna.schmidt@example.de", "4111 1111", "grace.hopper@example.com", "DE89 3704"]:
            if secret in public or secret in anonymized:
                fail(f"'{secret}' survived anonymization:\n{public}\n{anonymized}")
        if public.count("\n") != 3 or anonymized.count("\n") != 2:
            fail(f"the runs should write 3 rows and 2 lines:\n{public}\n{anonymized}")
        self.stop_all()
        for name in keys:
            self.env.pop(name)
        print(f"docs/jobs.md anonymizer block: ran; {len(runs)} runs finished, no personal data left in posts_public or the file")

    # docs/jobs.md: an email.send from the terminal, delivered.
    def email_shell(self):
        self.flush()
        self.migrate()
        since = time.time() - 1
        extra = dict(DATABASE_URL=self.database_url, SMTP_URL=self.smtp_url)
        self.start([self.ferry, "worker", "--queues", "mail", "--concurrency", "2"], **extra)
        code = self.code("docs/jobs.md", "email_shell")
        output = self.shell(code)
        shown = self.job(output.split()[0], wait="30s")
        if shown.get("state") != "succeeded" or shown.get("result", {}).get("status") != "sent":
            fail(f"the email block's job did not succeed: {shown}{self.logs()}")
        self.eventually("the email block's mail reaching the SMTP stand-in", self.mail("ada@example.com", "Bob", since))
        self.stop_all()
        print("docs/jobs.md email block: ran; the mail was delivered")

    # docs/writing-jobs.md: its Swift blocks, in the docs app (Sources/DocExamples).
    def writing_jobs(self):
        self.flush()
        app = os.path.join(self.example_bin, "doc-examples")
        since = time.time() - 1
        scope = dict(DATABASE_URL=self.database_url, SMTP_URL=self.smtp_url, DOC_EXAMPLES_HTTP_URL=self.http_url)
        self.start([app, "worker", "--queues", "default,mail", "--concurrency", "4"], **scope)
        redis = self.redis()

        # CountVisit, an async job.
        self.run([app, "enqueue", "stats.visit", "--args", '{"page": "home"}', "--wait", "30s"])
        if redis.get("visits:home") != "1" or redis.pfcount("visitors:home") != 1:
            fail("CountVisit did not count its visit")

        output = self.run([app, "snippet", "results"], **scope)
        if not output.startswith("succeeded") or '"rows"' not in output:
            fail(f"the Results block should print a succeeded result with its rows: {output}")

        output = self.run([app, "snippet", "batches"], **scope)
        batch = re.match(r"batch (\S+): 4 jobs", output)
        if not batch:
            fail(f"the Batches block should print its batch of 4 jobs: {output}")
        self.eventually("the batch's on_success publishing it", lambda: redis.get("published") == batch.group(1))
        if redis.scard("exported") != 1000:
            fail(f"ExportChunk should have exported 1000 rows (split in the batch), found {redis.scard('exported')}")
        self.eventually("the batch's on_complete mailing its report", self.mail("ops@example.com", batch.group(1), since))

        self.run([app, "snippet", "chain"], **scope)
        text = self.eventually("the chain's second job mailing the first one's result", self.mail("ada@example.com", "2026-12", since))
        if '"rows":3' not in text:
            fail(f"the chain's report.send did not get report.build's result as parent_result:\n{text}")
        self.stop_all()

        # A report that dies on an SMTP relay that is down, repaired from Swift by the QueueAdmin block.
        self.start([app, "worker", "--queues", "default,mail"], **dict(scope, SMTP_URL=f"smtp://127.0.0.1:{free_port()}"))
        printed = self.run([app, "enqueue", "report.send", "--queue", "mail", "--max-attempts", "1", "--args", '{"to": "grace@example.com"}', "--wait", "30s"], check=False)
        job_id = printed.split()[0]
        if self.job(job_id, ferry=app).get("state") != "dead" or "SMTPError" not in printed:
            fail(f"report.send should have died of an SMTPError: {printed}{self.logs()}")
        self.stop_all()
        output = self.run([app, "snippet", "queueAdmin"], **scope)
        if "mail ready 0 dead 1" not in output or self.job(job_id, ferry=app).get("state") != "ready":
            fail(f"the QueueAdmin block should list mail's dead job and retry it: {output}")
        self.start([app, "worker", "--queues", "mail"], **scope)
        if self.job(job_id, ferry=app, wait="30s").get("state") != "succeeded":
            fail(f"the retried report.send did not succeed{self.logs()}")
        self.eventually("the retried report reaching the SMTP stand-in", self.mail("grace@example.com", "Report", since))
        self.stop_all()

        output = self.run([app, "snippet", "clients"], **scope)
        for expected in ["Redis: 3 a 2", "PostgreSQL: paid 12.5", "PostgreSQL: copied 0.1", "HTTP: 200", "HTTP: 200 1048576 bytes streamed"]:
            if expected not in output:
                fail(f"the clients block should print '{expected}':\n{output}")
        self.eventually("the clients block's mail", self.mail("ada@example.com", "Sent by SMTPClient.", since))
        print("docs/writing-jobs.md Swift blocks: ran; an async job, a result, a batch with callbacks, a chain, a dead job retried, the clients")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="only check that BLOCKS lists every block")
    extract_parser = sub.add_parser("extract")
    extract_parser.add_argument("package")
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--ferry", required=True)
    run_parser.add_argument("--example-bin", required=True)
    run_parser.add_argument("--only", help="one stage, such as writing_jobs")
    args = parser.parse_args()
    if args.command == "check":
        inventory()
        return
    if args.command == "extract":
        extract(args.package)
        return
    session = Session(args.ferry, args.example_bin)
    stages = ["readme_enqueue", "readme_python", "readme_ruby", "readme_celery", "readme_shell", "readme_app", "readme_tree",
              "wire_python", "celery_python", "anonymize_shell", "email_shell", "writing_jobs"]
    try:
        for stage in [args.only] if args.only else stages:
            getattr(session, stage)()
    finally:
        session.stop_all()
        session.flush()
        session.psql("DROP DATABASE IF EXISTS ferry_docs WITH (FORCE)", url=session.server_url)
        shutil.rmtree(session.home, ignore_errors=True)


if __name__ == "__main__":
    main()
