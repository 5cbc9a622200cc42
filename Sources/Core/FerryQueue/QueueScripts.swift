package import FerryRedis

/// The atomic state transitions of a job, as Lua scripts run with EVALSHA.
///
/// Each script touches the keys of one queue only (one `{queue}` hash tag), so each transition
/// is atomic and stays valid on Redis Cluster. Times in scripts come from the server's clock
/// (`TIME`), never from the caller's, so hosts with skewed clocks agree on what is due and what
/// is stale. A script that takes something out of a list computes everything first and writes
/// last, so that an error halfway can leave a duplicate behind but never lose a job.
///
/// The Swift side of each script — which keys and arguments it takes — lives in one typed
/// wrapper: ``Fetcher``, ``Settler``, ``WorkerRegistry``, ``ScheduledPromoter``, ``Dispatcher``.
package enum QueueScripts {
    /// Helpers shared by the scripts that end a job's life or recover it.
    static let helpers = baseHelpers + batchFunctions

    static let baseHelpers = """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function decode_job(payload)
          local ok, job = pcall(cjson.decode, payload)
          if ok and type(job) == 'table' then return job end
          return nil
        end
        local function id_of(job)
          if job and type(job.id) == 'string' and job.id ~= '' then return job.id end
          return nil
        end
        local function release_unique(prefix, job)
          local id = id_of(job)
          if id and type(job.unique_key) == 'string' then
            local key = prefix .. job.unique_key
            if redis.call('GET', key) == id then redis.call('DEL', key) end
          end
        end
        -- The dead-set record: {"died_at": ms, "error": {...}, "job": <payload>, "queue": "q"}, or
        -- "job": null and "raw": "<payload>" when the payload is not a job.
        local function dead_record(payload, parsed, queue, error_json, now)
          local body
          if parsed then body = ',"job":' .. payload else body = ',"job":null,"raw":' .. cjson.encode(payload) end
          return '{"died_at":' .. now .. ',"error":' .. error_json .. body .. ',"queue":' .. cjson.encode(queue) .. '}'
        end
        -- The id index (hash id -> "s:<score>" or "d:<score>"): where a job with that id waits in the
        -- scheduled set or lies in the dead set, so a lookup by id is O(log N).
        local function index_set(ids, id, where, score)
          if id then redis.call('HSET', ids, id, where .. ':' .. score) end
        end
        local function index_del(ids, id, where)
          if not id then return end
          local at = redis.call('HGET', ids, id)
          if at and string.sub(at, 1, 1) == where then redis.call('HDEL', ids, id) end
        end
        -- A job leaves the scheduled set: drop its entry ("s:" delayed, "r:" retry) and, for a
        -- retry, count it out of the retries counter.
        local function unindex_waiting(ids, retries, id)
          if not id then return end
          local at = redis.call('HGET', ids, id)
          if not at then return end
          local kind = string.sub(at, 1, 1)
          if kind == 's' or kind == 'r' then redis.call('HDEL', ids, id) end
          if kind == 'r' and tonumber(redis.call('GET', retries) or '0') > 0 then redis.call('DECR', retries) end
        end
        -- Removes dead records (whole members) and their index entries.
        local function drop_dead(dead, ids, records)
          for i = 1, #records, 1000 do
            local chunk = {}
            for j = i, math.min(i + 999, #records) do
              chunk[#chunk + 1] = records[j]
              local ok, record = pcall(cjson.decode, records[j])
              if ok and type(record) == 'table' and type(record.job) == 'table' then index_del(ids, id_of(record.job), 'd') end
            end
            redis.call('ZREM', dead, unpack(chunk))
          end
          return #records
        end
        -- Adds a record and trims the dead set by age and by size; counts what was trimmed.
        -- Returns {trimmed, size}.
        local function add_dead(dead, ids, trimmed_counter, record, id, now, capacity, max_age)
          redis.call('ZADD', dead, now, record)
          index_set(ids, id, 'd', now)
          local removed = 0
          if max_age > 0 then
            removed = drop_dead(dead, ids, redis.call('ZRANGE', dead, '-inf', '(' .. (now - max_age), 'BYSCORE', 'LIMIT', 0, 10000))
          end
          local excess = redis.call('ZCARD', dead) - capacity
          if excess > 0 then removed = removed + drop_dead(dead, ids, redis.call('ZRANGE', dead, 0, excess - 1)) end
          if removed > 0 then redis.call('INCRBY', trimmed_counter, removed) end
          return {removed, redis.call('ZCARD', dead)}
        end

        """

    /// The batch bookkeeping that settlement scripts share (small: the acknowledgement is the hot path).
    static let batchHelpers = """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end

        """ + batchFunctions

    /// Batch bookkeeping: `batch_fire` and `batch_settle` (they need `now_ms`).
    static let batchFunctions = """
        -- Batches (see Batches.swift): a batch's info hash and its pending bitmap (bit i set while job
        -- i has not ended) live in its queue's slot.
        -- Enqueues the callbacks once the batch is sealed and nothing is pending; HSETNX makes it once.
        local function batch_fire(info, ready)
          if tonumber(redis.call('HGET', info, 'pending') or '1') > 0 or redis.call('HGET', info, 'sealed') ~= '1' then return end
          if redis.call('HSETNX', info, 'completed_at', now_ms()) == 0 then return end
          local complete = redis.call('HGET', info, 'on_complete')
          if complete then
            redis.call('LPUSH', ready, complete)
            redis.call('HSET', info, 'fired_complete', '1')
          end
          if tonumber(redis.call('HGET', info, 'dead') or '0') == 0 then
            local success = redis.call('HGET', info, 'on_success')
            if success then
              redis.call('LPUSH', ready, success)
              redis.call('HSET', info, 'fired_success', '1')
            end
          end
          -- The record stays a week after completion for `ferry batch` and the admin API.
          redis.call('PEXPIRE', info, 604800000)
          redis.call('DEL', string.sub(info, 1, -5) .. 'pending')
        end
        -- Job `index` of a batch ended one attempt: `done`, `dead` or `retry`. Counted once per job:
        -- only the call that clears its pending bit counts it.
        local function batch_settle(prefix, ready, index, outcome)
          if not prefix or prefix == '' or not index or index == '' then return end
          local info = prefix .. 'info'
          if redis.call('EXISTS', info) == 0 then return end
          if outcome == 'retry' then
            redis.call('HINCRBY', info, 'failed', 1)
            return
          end
          -- Only places the batch gave out: a forged index must not grow the bitmap.
          local place = tonumber(index)
          if not place or place < 0 or place >= tonumber(redis.call('HGET', info, 'next_index') or '0') then return end
          if redis.call('SETBIT', prefix .. 'pending', place, 0) == 0 then return end
          redis.call('HINCRBY', info, 'pending', -1)
          if outcome == 'dead' then
            redis.call('HINCRBY', info, 'failed', 1)
            redis.call('HINCRBY', info, 'dead', 1)
          else
            redis.call('HINCRBY', info, 'succeeded', 1)
          end
          batch_fire(info, ready)
        end

        """

    /// Enqueue under a unique key. KEYS: target (ready list or scheduled zset), unique key, id index.
    /// ARGV: job JSON, job id, unique TTL in ms, score ("" for the ready list).
    /// Returns the id of the job that holds the key: the new job's, or the one already queued.
    static let enqueueUnique = RedisScript(name: "enqueue_unique", source: """
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
        """)

    /// Reliable fetch of up to ARGV[1] jobs. KEYS: ready, the consumer's in-flight list, paused,
    /// crashes. Moves the oldest jobs from ready to the in-flight list (nothing while paused) and
    /// returns {jobs, suspects}: `suspects[i]` is 1 when job i is suspected of crashing a worker
    /// (only looked up while the queue has suspects at all).
    static let fetch = RedisScript(name: "fetch", source: helpers + """
        if redis.call('EXISTS', KEYS[3]) == 1 then return {{}, {}} end
        local limit = tonumber(ARGV[1])
        if not limit or limit < 1 then return {{}, {}} end
        -- One LRANGE, LPUSH and LTRIM for the whole batch instead of a move per job; the lists
        -- end as moving the jobs one by one would leave them (the oldest rightmost in flight).
        -- Pushed before they are trimmed from ready: an error in between duplicates, never loses.
        local taken = redis.call('LRANGE', KEYS[1], -limit, -1)
        local n = #taken
        local jobs = {}
        for i = 1, n do jobs[i] = taken[n - i + 1] end
        for first = 1, n, 1000 do
          redis.call('LPUSH', KEYS[2], unpack(jobs, first, math.min(first + 999, n)))
        end
        if n > 0 then redis.call('LTRIM', KEYS[1], 0, -n - 1) end
        local suspects = {}
        if #jobs > 0 and redis.call('HLEN', KEYS[4]) > 0 then
          for i, job in ipairs(jobs) do
            local id = id_of(decode_job(job))
            suspects[i] = (id and redis.call('HEXISTS', KEYS[4], id) == 1) and 1 or 0
          end
        end
        return {jobs, suspects}
        """)

    /// Acknowledges one finished job. KEYS: in-flight list, processed counter, crashes, [unique key].
    /// ARGV: payload, job id, "1" if it was a crash suspect, unique-key holder id, the job's batch
    /// key prefix ("" for none), the ready list (for the batch's callbacks), the job's index in its batch.
    /// Returns 1, or 0 when the job was no longer in flight (then nothing else changes).
    static let ack = RedisScript(name: "ack", source: batchHelpers + """
        if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
        redis.call('INCR', KEYS[2])
        if ARGV[3] == '1' then redis.call('HDEL', KEYS[3], ARGV[2]) end
        if KEYS[4] and redis.call('GET', KEYS[4]) == ARGV[4] then redis.call('DEL', KEYS[4]) end
        if ARGV[5] ~= '' then batch_settle(ARGV[5], ARGV[6], ARGV[7], 'done') end
        return 1
        """)

    /// Acknowledges finished jobs that need nothing but their removal and count (no unique key, no
    /// batch, not suspects). KEYS: in-flight list, processed counter. ARGV: payloads, oldest first.
    /// Returns how many were still in flight. When the jobs are the list's oldest, as an
    /// job thread's finished jobs are, one LTRIM takes them all out; else each is removed by an
    /// LREM that looks from the oldest end. Either way the cost does not grow with the list.
    static let ackBatch = RedisScript(name: "ack_batch", source: """
        local k = #ARGV
        if k == 0 then return 0 end
        local n = 0
        local oldest = redis.call('LRANGE', KEYS[1], -k, -1)
        if #oldest == k then
          local same = true
          for i = 1, k do
            if oldest[k - i + 1] ~= ARGV[i] then same = false break end
          end
          if same then
            redis.call('LTRIM', KEYS[1], 0, -k - 1)
            n = k
          end
        end
        if n == 0 then
          for i = 1, k do n = n + redis.call('LREM', KEYS[1], -1, ARGV[i]) end
        end
        if n > 0 then redis.call('INCRBY', KEYS[2], n) end
        return n
        """)

    /// Schedules a failed job's next attempt. KEYS: in-flight list, scheduled, failed counter, crashes,
    /// id index, retries counter. ARGV: payload as fetched, updated job JSON, delay in ms (from the server's now), job
    /// id, "1" if it was a crash suspect (it ended without a crash, so it is one no longer), the
    /// job's batch key prefix ("" for none), the job's index in its batch.
    /// Returns 1, or 0 when the job was no longer in flight.
    static let retry = RedisScript(name: "retry", source: helpers + """
        if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
        if ARGV[6] ~= '' then batch_settle(ARGV[6], '', ARGV[7], 'retry') end
        local due = now_ms() + tonumber(ARGV[3])
        redis.call('ZADD', KEYS[2], due, ARGV[2])
        unindex_waiting(KEYS[5], KEYS[6], ARGV[4])
        index_set(KEYS[5], ARGV[4], 'r', due)
        redis.call('INCR', KEYS[6])
        redis.call('INCR', KEYS[3])
        if ARGV[5] == '1' then redis.call('HDEL', KEYS[4], ARGV[4]) end
        return 1
        """)

    /// Moves a job to the dead set. KEYS: in-flight list, dead, failed counter, crashes, trimmed
    /// counter, id index. ARGV: payload as fetched, error JSON, "1" if the payload is a job, queue,
    /// dead-set capacity, dead-set max age in ms, unique-key prefix, the job's batch key prefix
    /// ("" for none), the ready list (for the batch's callbacks), the job's index in its batch.
    /// Returns {1, trimmed, dead size}, or {0, 0, 0} when the job was no longer in flight.
    static let bury = RedisScript(name: "bury", source: helpers + """
        if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return {0, 0, 0} end
        local now = now_ms()
        local parsed = ARGV[3] == '1'
        local job = parsed and decode_job(ARGV[1]) or nil
        local id = id_of(job)
        local result = add_dead(KEYS[2], KEYS[6], KEYS[5], dead_record(ARGV[1], parsed, ARGV[4], ARGV[2], now), id, now,
          tonumber(ARGV[5]), tonumber(ARGV[6]))
        redis.call('INCR', KEYS[3])
        if id then redis.call('HDEL', KEYS[4], id) end
        release_unique(ARGV[7], job)
        if ARGV[8] and ARGV[8] ~= '' then batch_settle(ARGV[8], ARGV[9], ARGV[10], 'dead') end
        return {1, result[1], result[2]}
        """)

    /// Puts unstarted or interrupted jobs back at the front of the line, in the order given (the
    /// first is taken next). KEYS: in-flight list, ready. ARGV: payloads. Returns how many.
    static let requeue = RedisScript(name: "requeue", source: """
        local n = 0
        for i = #ARGV, 1, -1 do
          if redis.call('LREM', KEYS[1], -1, ARGV[i]) > 0 then
            redis.call('RPUSH', KEYS[2], ARGV[i])
            n = n + 1
          end
        end
        return n
        """)

    /// Puts everything left in a consumer's in-flight list back at the front of the line, oldest
    /// taken next. KEYS: in-flight list, ready. Returns how many.
    static let requeueAll = RedisScript(name: "requeue_all", source: """
        local n = 0
        while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do n = n + 1 end
        return n
        """)

    /// Moves a crash suspect from a consumer's in-flight list to the process's isolation list before
    /// it runs alone. KEYS: in-flight list, isolation list. ARGV: payload. Returns 1 or 0.
    static let isolate = RedisScript(name: "isolate", source: """
        if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
        redis.call('LPUSH', KEYS[2], ARGV[1])
        return 1
        """)

    /// Moves due delayed jobs and retries to the ready list, by the server's clock. KEYS: scheduled,
    /// ready, id index, retries counter. ARGV: most jobs to move. Returns how many moved.
    static let promote = RedisScript(name: "promote", source: helpers + """
        local due = redis.call('ZRANGE', KEYS[1], '-inf', now_ms(), 'BYSCORE', 'LIMIT', 0, ARGV[1])
        local indexed = redis.call('HLEN', KEYS[3]) > 0
        for _, job in ipairs(due) do
          redis.call('ZREM', KEYS[1], job)
          redis.call('LPUSH', KEYS[2], job)
          if indexed then unindex_waiting(KEYS[3], KEYS[4], id_of(decode_job(job))) end
        end
        return #due
        """)

    /// Recovers one in-flight list of a worker that died. KEYS: the list, ready, dead, crashes,
    /// trimmed counter, id index, processed counter. ARGV: mode, crash limit, queue, worker id, dead-set capacity, dead-set max
    /// age in ms, unique-key prefix, batch key prefix of the queue (`ns:{q}:batch:`), the number
    /// F of finished ids, then the ids of F jobs the worker had finished without acknowledging
    /// them yet (they count as processed), then (mode `together`) the ids of the jobs it was
    /// running at once.
    ///
    /// A consumer works through its list from the right, one job at a time, so the rightmost job
    /// is the one that was running; the others never started and go back with no blame. The
    /// running one, by mode: `isolated` — it ran alone in its process, so it caused the crash: its
    /// count goes up and at the limit it goes dead; `suspect` — it ran beside others, so it becomes
    /// a suspect (count 0) to be run alone next time; `clean` — it was waiting, not running.
    /// `together` — the consumer was running several jobs at once (async attempts): those named
    /// become suspects, the others were waiting and go back with no blame.
    /// Returns {restored, buried}.
    static let recover = RedisScript(name: "recover", source: helpers + """
        local listed = redis.call('LRANGE', KEYS[1], 0, -1)
        -- Jobs the worker had finished but not yet acknowledged (from its ledger) are done.
        local finished_count = tonumber(ARGV[9]) or 0
        local finished, together, acknowledged, items = {}, {}, 0, listed
        for i = 10, 9 + finished_count do finished[ARGV[i]] = true end
        for i = 10 + finished_count, #ARGV do together[ARGV[i]] = true end
        if finished_count > 0 then
          items = {}
          for _, item in ipairs(listed) do
            local item_id = id_of(decode_job(item))
            if item_id and finished[item_id] then acknowledged = acknowledged + 1 else items[#items + 1] = item end
          end
          if acknowledged > 0 then redis.call('INCRBY', KEYS[7], acknowledged) end
        end
        local n = #items
        if n == 0 then
          redis.call('DEL', KEYS[1])
          return {0, 0}
        end
        local mode, limit = ARGV[1], tonumber(ARGV[2])
        if mode == 'together' then
          for i = 1, n do
            local item_id = id_of(decode_job(items[i]))
            if item_id and together[item_id] then redis.call('HSETNX', KEYS[4], item_id, 0) end
            redis.call('RPUSH', KEYS[2], items[i])
          end
          redis.call('DEL', KEYS[1])
          return {n, 0}
        end
        local running = items[n]
        local job = decode_job(running)
        local id = id_of(job)
        local bury, crashes = false, 0
        if id and mode == 'isolated' then
          local reply = redis.pcall('HINCRBY', KEYS[4], id, 1)
          if type(reply) == 'number' then crashes = reply else crashes = limit end
          bury = crashes >= limit
        end
        local restored, buried = 0, 0
        for i = 1, n - 1 do
          redis.call('RPUSH', KEYS[2], items[i])
          restored = restored + 1
        end
        if bury then
          local now = now_ms()
          local error_json = cjson.encode({type = 'WorkerCrashed', at = now / 1000,
            message = 'the job was running alone in its worker process when the process died, ' .. crashes ..
              ' times (last: worker ' .. ARGV[4] .. ')'})
          add_dead(KEYS[3], KEYS[6], KEYS[5], dead_record(running, true, ARGV[3], error_json, now), id, now, tonumber(ARGV[5]), tonumber(ARGV[6]))
          redis.call('HDEL', KEYS[4], id)
          release_unique(ARGV[7], job)
          if ARGV[8] and type(job.batch) == 'string' then
            local batch_id, index = string.match(job.batch, '^(.+):(%d+)$')
            if batch_id then batch_settle(ARGV[8] .. batch_id .. ':', KEYS[2], index, 'dead') end
          end
          buried = 1
        else
          if id and mode == 'suspect' then redis.call('HSETNX', KEYS[4], id, 0) end
          redis.call('RPUSH', KEYS[2], running)
          restored = restored + 1
        end
        redis.call('DEL', KEYS[1])
        return {restored, buried}
        """)

    /// Enqueues a scheduler entry's job for one tick, once: the tick must be later than the last
    /// one enqueued for the entry. KEYS: the entry's last-tick key, ready. ARGV: tick in ms, job JSON.
    /// Returns 1 if this call enqueued it, 0 if another scheduler already had.
    public static let enqueueTick = RedisScript(name: "enqueue_tick", source: """
        local last = tonumber(redis.call('GET', KEYS[1]) or '-1') or -1
        -- A value outside 1970…9999 (written by something else) must not block the entry forever.
        if last > 253402300799000 then last = -1 end
        if tonumber(ARGV[1]) <= last then return 0 end
        redis.call('SET', KEYS[1], ARGV[1])
        redis.call('LPUSH', KEYS[2], ARGV[2])
        return 1
        """)

    /// Takes one record out of the dead set and enqueues a job. KEYS: dead, ready, id index, and
    /// (for a job that could be read) its result record and finished list, deleted. ARGV: the dead
    /// record, the job payload to enqueue, job id. Returns 0 if the record was gone.
    static let resurrect = RedisScript(name: "resurrect", source: helpers + """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
        redis.call('LPUSH', KEYS[2], ARGV[2])
        if ARGV[3] ~= '' then index_del(KEYS[3], ARGV[3], 'd') end
        if KEYS[4] then redis.call('DEL', KEYS[4], KEYS[5]) end
        return 1
        """)

    /// Deletes one dead record. KEYS: dead, id index. ARGV: the record, job id. Returns 1 or 0.
    static let deleteDead = RedisScript(name: "delete_dead", source: helpers + """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
        if ARGV[2] ~= '' then index_del(KEYS[2], ARGV[2], 'd') end
        return 1
        """)

    /// Moves one scheduled job to the ready list now. KEYS: scheduled, ready, id index, retries
    /// counter. ARGV: the member, job id.
    static let runNow = RedisScript(name: "run_now", source: helpers + """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
        redis.call('LPUSH', KEYS[2], ARGV[1])
        unindex_waiting(KEYS[3], KEYS[4], ARGV[2])
        return 1
        """)

    /// Deletes one scheduled job and everything that refers to it. KEYS: scheduled, crashes, id index,
    /// retries counter. ARGV: the member, unique-key prefix. Returns 1 or 0.
    static let deleteScheduled = RedisScript(name: "delete_scheduled", source: helpers + """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
        local job = decode_job(ARGV[1])
        local id = id_of(job)
        if id then redis.call('HDEL', KEYS[2], id) end
        unindex_waiting(KEYS[3], KEYS[4], id)
        release_unique(ARGV[2], job)
        return 1
        """)

    /// Moves a retry or delayed job to the dead set at once with the given reason (an admin's
    /// "kill"): not counted as a failed attempt. KEYS: scheduled, crashes, ids, retries, dead,
    /// trimmed counter. ARGV: member, unique prefix, queue, failure JSON, dead capacity, dead max
    /// age in ms, batch key prefix, ready list, batch index. Returns 1, or 0 when it is gone.
    static let kill = RedisScript(name: "kill", source: helpers + """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
        local now = now_ms()
        local job = decode_job(ARGV[1])
        local id = id_of(job)
        if id then redis.call('HDEL', KEYS[2], id) end
        unindex_waiting(KEYS[3], KEYS[4], id)
        add_dead(KEYS[5], KEYS[3], KEYS[6], dead_record(ARGV[1], job ~= nil, ARGV[3], ARGV[4], now), id, now, tonumber(ARGV[5]), tonumber(ARGV[6]))
        release_unique(ARGV[2], job)
        if ARGV[7] and ARGV[7] ~= '' then batch_settle(ARGV[7], ARGV[8], ARGV[9], 'dead') end
        return 1
        """)

    /// Records a worker's heartbeat by the server's clock. KEYS: workers zset. ARGV: worker id.
    static let beat = RedisScript(name: "beat", source: helpers + """
        redis.call('ZADD', KEYS[1], now_ms(), ARGV[1])
        return 1
        """)

    /// Workers whose last heartbeat is older than ARGV[1] ms by the server's clock, at most
    /// ARGV[2] of them. KEYS: workers zset.
    static let stale = RedisScript(name: "stale", source: helpers + """
        return redis.call('ZRANGE', KEYS[1], '-inf', '(' .. (now_ms() - tonumber(ARGV[1])), 'BYSCORE', 'LIMIT', 0, ARGV[2])
        """)

    /// Forgets a recovered worker unless it beat again meanwhile. KEYS: workers zset.
    /// ARGV: worker id, staleness in ms (-1: forget unconditionally). Returns 1 if forgotten.
    static let forget = RedisScript(name: "forget", source: helpers + """
        local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if not score then return 0 end
        local ttl = tonumber(ARGV[2])
        if ttl >= 0 and tonumber(score) >= now_ms() - ttl then return 0 end
        return redis.call('ZREM', KEYS[1], ARGV[1])
        """)
}
