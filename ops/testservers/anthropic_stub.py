"""A stand-in for Anthropic's Messages API, for Ferry's tests (served by http-stub.py under /anthropic).

  POST /anthropic/v1/messages                   a Message, with usage, request-id and anthropic-ratelimit-* headers
  POST /anthropic/v1/messages/batches           a Message Batch (ends `ended_after_ms` after creation, default 500)
  GET  /anthropic/v1/messages/batches/<id>      the batch's status; results_url once it has ended
  GET  /anthropic/v1/messages/batches/<id>/results   the results, one JSON line per request
  PUT  /anthropic/stub/limits/<key>             {"requests": N, "input_tokens": T, "window_ms": W}: answer 429 past them in
                                                any sliding window of W; with "enforce": "bucket", as the API does:
                                                token buckets refilled continuously at N (and T) per W, holding
                                                "burst_ms" (default 1000) of refill — 600 a minute acts as 10 a
                                                second — and the headers announce N (and T) and what is left;
                                                "keep_log": true changes limits mid-run ("drain": true empties the buckets)
  GET  /anthropic/stub/log/<key>                {"accepted": [[ms, model, input_tokens], ...], "rejected": n}

The API key must start with "sk-test"; others get 401. The last user message steers the answer:
  "stub:429 retry-after=S"  429 rate_limit_error with retry-after: S
  "stub:529" / "stub:500"   overloaded_error / api_error
  "stub:400"                invalid_request_error with a message
  "stub:malformed"          200 with a body that is not JSON
  "stub:delay=MS"           answers after MS milliseconds
  "stub:... once"           any of the above the first time this exact text is sent, then an echo
  anything else             "echo: <text>", output tokens = words (at most max_tokens)
Input tokens are counted as ceil(characters of system + messages / 4).
"""
import json
import math
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

LOCK = threading.Lock()
LIMITS = {}   # key -> {"requests", "input_tokens", "window_ms", "enforce", "burst_ms"}
BUCKETS = {}  # key -> {measure: [level, at_ms]} in bucket mode
LOG = {}      # key -> {"accepted": [(ms, model, input_tokens)], "rejected": n}
BATCHES = {}  # id -> batch
SEEN = set()  # texts of "once" directives already answered


def now_ms():
    return int(time.time() * 1000)


def rfc3339(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")


def error(kind, message):
    return {"type": "error", "error": {"type": kind, "message": message}}


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(block.get("text", "") for block in content if isinstance(block, dict))
    return ""


def count_input(body):
    text = json.dumps(body.get("system", "")) + json.dumps(body.get("messages", []))
    return max(1, math.ceil(len(text) / 4))


def message_for(body):
    """(status, payload, extra headers) for one Messages API request body."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        return 400, error("invalid_request_error", "messages: field required"), []
    if not isinstance(body.get("model"), str) or not isinstance(body.get("max_tokens"), int):
        return 400, error("invalid_request_error", "model and max_tokens are required"), []
    last = body["messages"][-1]
    text = text_of(last.get("content")) if isinstance(last, dict) else ""
    if text.startswith("stub:") and " once" in text:
        with LOCK:
            first = text not in SEEN
            SEEN.add(text)
        if not first:
            text = "answered after " + text[5:]
    if text.startswith("stub:429"):
        after = text.split("retry-after=")[-1] if "retry-after=" in text else "1"
        return 429, error("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), [("retry-after", after)]
    if text.startswith("stub:529"):
        return 529, error("overloaded_error", "Overloaded"), []
    if text.startswith("stub:500"):
        return 500, error("api_error", "Internal server error"), []
    if text.startswith("stub:400"):
        return 400, error("invalid_request_error", "messages.0.content: text content blocks must be non-empty"), []
    if text.startswith("stub:malformed"):
        return 200, b'{"id": "msg_broken", "content": [', []
    if text.startswith("stub:delay="):
        time.sleep(int(text.split("=", 1)[1].split()[0]) / 1000)
    words = max(1, len(text.split()))
    output = min(words + 1, body["max_tokens"])
    reply = {
        "id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": body["model"],
        "content": [{"type": "text", "text": " ".join(("echo: " + text).split()[:output])}],
        "stop_reason": "end_turn" if output > words else "max_tokens", "stop_sequence": None,
        "usage": {"input_tokens": count_input(body), "output_tokens": output,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }
    return 200, reply, []


def bucket_levels(key, limits, at):
    """The key's buckets refilled up to `at`: {measure: (level, capacity, rate per ms)}."""
    window = limits.get("window_ms", 60000)
    burst = limits.get("burst_ms", 1000)
    state = BUCKETS.setdefault(key, {})
    levels = {}
    for measure in ("requests", "input_tokens"):
        if measure not in limits:
            continue
        rate = limits[measure] / window
        capacity = max(1.0, limits[measure] * burst / window)
        level, last = state.get(measure, [capacity, at])
        level = min(capacity, level + (at - last) * rate)
        state[measure] = [level, at]
        levels[measure] = (level, capacity, rate)
    return levels


def bucket_headers(key, limits, at):
    headers = []
    with LOCK:
        levels = bucket_levels(key, limits, at)
    for measure, (level, capacity, rate) in levels.items():
        name = measure.replace("_", "-")
        full = at + int((capacity - level) / rate) if level < capacity else at
        headers += [("anthropic-ratelimit-%s-limit" % name, str(limits[measure])),
                    ("anthropic-ratelimit-%s-remaining" % name, str(max(0, int(level)))),
                    ("anthropic-ratelimit-%s-reset" % name, rfc3339(full))]
    return headers


def rate_headers(key, at):
    limits = LIMITS.get(key)
    if limits and limits.get("enforce") == "bucket":
        return bucket_headers(key, limits, at)
    if not limits:
        # No limits set for this key: headers as the API sends them, with room to spare.
        return [("anthropic-ratelimit-requests-limit", "1000000"), ("anthropic-ratelimit-requests-remaining", "999999"),
                ("anthropic-ratelimit-requests-reset", rfc3339(at + 60000))]
    window = limits.get("window_ms", 60000)
    recent = [entry for entry in LOG.get(key, {}).get("accepted", []) if entry[0] > at - window]
    headers = [("anthropic-ratelimit-requests-limit", str(limits.get("requests", 4000))),
               ("anthropic-ratelimit-requests-remaining", str(max(0, limits.get("requests", 4000) - len(recent)))),
               ("anthropic-ratelimit-requests-reset", rfc3339((recent[0][0] if recent else at) + window))]
    if "input_tokens" in limits:
        used = sum(entry[2] for entry in recent)
        headers += [("anthropic-ratelimit-input-tokens-limit", str(limits["input_tokens"])),
                    ("anthropic-ratelimit-input-tokens-remaining", str(max(0, limits["input_tokens"] - used))),
                    ("anthropic-ratelimit-input-tokens-reset", rfc3339((recent[0][0] if recent else at) + window))]
    return headers


def admit(key, model, tokens):
    """Records the request against the key's limits; False (a 429) when it would pass one."""
    at = now_ms()
    with LOCK:
        log = LOG.setdefault(key, {"accepted": [], "rejected": 0})
        limits = LIMITS.get(key)
        if limits and limits.get("enforce") == "bucket":
            levels = bucket_levels(key, limits, at)
            wants = {"requests": 1, "input_tokens": tokens}
            if any(levels[m][0] < wants[m] for m in levels):
                log["rejected"] += 1
                return False, at
            for measure in levels:
                BUCKETS[key][measure][0] -= wants[measure]
        elif limits:
            window = limits.get("window_ms", 60000)
            recent = [entry for entry in log["accepted"] if entry[0] > at - window]
            over = len(recent) + 1 > limits.get("requests", 1 << 30) or \
                sum(entry[2] for entry in recent) + tokens > limits.get("input_tokens", 1 << 60)
            if over:
                log["rejected"] += 1
                return False, at
        log["accepted"].append((at, model, tokens))
        return True, at


def handle(handler, method, parts, body):
    """Serves /anthropic/...; `parts` are the path segments after 'anthropic'."""
    if parts[:2] == ["stub", "limits"] and len(parts) == 3 and method == "PUT":
        with LOCK:
            new = json.loads(body or b"{}")
            if new.get("keep_log"):
                # A limit changed mid-run: the log goes on, the buckets keep what they hold (at most the new size).
                old = BUCKETS.get(parts[2], {})
                for measure, (level, at) in list(old.items()):
                    if measure in new:
                        size = max(1.0, new[measure] * new.get("burst_ms", 1000) / new.get("window_ms", 60000))
                        old[measure] = [0.0 if new.get("drain") else min(level, size), at]
            else:
                LOG.pop(parts[2], None)
                BUCKETS.pop(parts[2], None)
            LIMITS[parts[2]] = new
        return handler._send(200, b"{}", "application/json")
    if parts[:2] == ["stub", "log"] and len(parts) == 3:
        with LOCK:
            log = LOG.get(parts[2], {"accepted": [], "rejected": 0})
            payload = json.dumps({"accepted": log["accepted"], "rejected": log["rejected"]}).encode()
        return handler._send(200, payload, "application/json")

    key = handler.headers.get("x-api-key") or ""
    if not handler.headers.get("anthropic-version"):
        return reply(handler, 400, error("invalid_request_error", "anthropic-version: header is required"))
    if not key.startswith("sk-test"):
        return reply(handler, 401, error("authentication_error", "invalid x-api-key"))
    if parts == ["v1", "messages"] and method == "POST":
        try:
            request = json.loads(body)
        except ValueError:
            return reply(handler, 400, error("invalid_request_error", "the body is not valid JSON"))
        status, payload, headers = message_for(request)
        if status == 200 and isinstance(payload, dict):
            ok, at = admit(key, request.get("model"), payload["usage"]["input_tokens"])
            if not ok:
                return reply(handler, 429, error("rate_limit_error", "rate limit exceeded"), [("retry-after", "1")] + rate_headers(key, at))
            headers = headers + rate_headers(key, at)
        return reply(handler, status, payload, headers)
    if parts == ["v1", "messages", "batches"] and method == "POST":
        request = json.loads(body or b"{}")
        requests = request.get("requests")
        if not isinstance(requests, list) or not requests:
            return reply(handler, 400, error("invalid_request_error", "requests: at least one request is required"))
        batch_id = "msgbatch_" + uuid.uuid4().hex[:20]
        created = now_ms()
        results = []
        for item in requests:
            status, payload, _ = message_for(item.get("params"))
            if status == 200 and isinstance(payload, dict):
                result = {"type": "succeeded", "message": payload}
            elif status == 200:
                result = {"type": "errored", "error": error("api_error", "malformed")}
            else:
                result = {"type": "errored", "error": payload}
            results.append({"custom_id": item.get("custom_id"), "result": result})
        with LOCK:
            BATCHES[batch_id] = {"created": created, "ends": created + int(request.get("ended_after_ms", 500)), "results": results,
                                 "base": "http://%s/anthropic" % handler.headers.get("Host")}
        return reply(handler, 200, batch_view(batch_id))
    if parts[:3] == ["v1", "messages", "batches"] and len(parts) in (4, 5) and method == "GET":
        with LOCK:
            batch = BATCHES.get(parts[3])
        if batch is None:
            return reply(handler, 404, error("not_found_error", "batch not found"))
        if len(parts) == 4:
            return reply(handler, 200, batch_view(parts[3]))
        if now_ms() < batch["ends"]:
            return reply(handler, 404, error("not_found_error", "results are not ready"))
        lines = "".join(json.dumps(line) + "\n" for line in batch["results"]).encode()
        return handler._send(200, lines, "application/binary")
    return reply(handler, 404, error("not_found_error", "no such route"))


def batch_view(batch_id):
    with LOCK:
        batch = BATCHES[batch_id]
    ended = now_ms() >= batch["ends"]
    succeeded = sum(1 for line in batch["results"] if line["result"]["type"] == "succeeded")
    errored = len(batch["results"]) - succeeded
    return {
        "id": batch_id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
        "request_counts": {"processing": 0 if ended else len(batch["results"]), "succeeded": succeeded if ended else 0,
                           "errored": errored if ended else 0, "canceled": 0, "expired": 0},
        "created_at": rfc3339(batch["created"]), "ended_at": rfc3339(batch["ends"]) if ended else None,
        "expires_at": rfc3339(batch["created"] + 86400000), "cancel_initiated_at": None, "archived_at": None,
        "results_url": "%s/v1/messages/batches/%s/results" % (batch["base"], batch_id) if ended else None,
    }


def reply(handler, status, payload, headers=()):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = list(headers) + [("request-id", "req_" + uuid.uuid4().hex[:20])]
    return handler._send(status, body, "application/json", headers)
