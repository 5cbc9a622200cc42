public import FerryRedis

/// The atomic state transitions of a job, as Lua scripts run with EVALSHA.
///
/// Each script touches the keys of one queue only (one `{queue}` hash tag), so each transition
/// is atomic and stays valid on Redis Cluster.
public enum QueueScripts {
    /// Enqueue under a unique key. KEYS: target (ready list or scheduled zset), unique key.
    /// ARGV: job JSON, job id, unique TTL in ms, score ("" for the ready list).
    /// Returns the id of the job that holds the key: the new job's, or the one already queued.
    public static let enqueueUnique = RedisScript(name: "enqueue_unique", source: """
        local holder = redis.call('GET', KEYS[2])
        if holder then return holder end
        redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
        if ARGV[4] == '' then
          redis.call('LPUSH', KEYS[1], ARGV[1])
        else
          redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
        end
        return ARGV[2]
        """)

    /// Reliable fetch of up to ARGV[1] jobs. KEYS: ready, in-flight, paused.
    /// Moves the oldest jobs from ready to the worker's in-flight list; nothing while paused.
    public static let fetch = RedisScript(name: "fetch", source: """
        if redis.call('EXISTS', KEYS[3]) == 1 then return {} end
        local jobs = {}
        for i = 1, tonumber(ARGV[1]) do
          local job = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
          if not job then break end
          jobs[i] = job
        end
        return jobs
        """)

    /// Acknowledges finished jobs. KEYS: in-flight, processed counter, crashes, then unique keys.
    /// ARGV: count N, N job payloads, then one holder id per unique key.
    /// Returns how many of the jobs were still in flight (and so are now done).
    public static let ack = RedisScript(name: "ack", source: """
        local n = tonumber(ARGV[1])
        local done = 0
        for i = 2, n + 1 do
          done = done + redis.call('LREM', KEYS[1], -1, ARGV[i])
        end
        if done > 0 then redis.call('INCRBY', KEYS[2], done) end
        if redis.call('HLEN', KEYS[3]) > 0 then
          for i = 2, n + 1 do
            local ok, job = pcall(cjson.decode, ARGV[i])
            if ok and type(job) == 'table' and job.id then redis.call('HDEL', KEYS[3], job.id) end
          end
        end
        for k = 4, #KEYS do
          if redis.call('GET', KEYS[k]) == ARGV[n + 1 + (k - 3)] then redis.call('DEL', KEYS[k]) end
        end
        return done
        """)

    /// Schedules a failed job's next attempt. KEYS: in-flight, scheduled, failed counter.
    /// ARGV: payload as fetched, updated job JSON, due time in ms.
    /// Returns 0 when the job was no longer in flight (already recovered elsewhere).
    public static let retry = RedisScript(name: "retry", source: """
        if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
        redis.call('INCR', KEYS[3])
        return 1
        """)

    /// Moves a job to the dead set. KEYS: in-flight, dead, failed counter, crashes, [unique key].
    /// ARGV: payload as fetched, dead record JSON, time in ms, dead-set capacity, job id, unique holder id.
    public static let bury = RedisScript(name: "bury", source: """
        if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
        redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
        redis.call('INCR', KEYS[3])
        if ARGV[5] ~= '' then redis.call('HDEL', KEYS[4], ARGV[5]) end
        if KEYS[5] and redis.call('GET', KEYS[5]) == ARGV[6] then redis.call('DEL', KEYS[5]) end
        return 1
        """)

    /// Puts unstarted or unfinished jobs back at the front of the line. KEYS: in-flight, ready.
    /// ARGV: payloads. Returns how many were put back.
    public static let requeue = RedisScript(name: "requeue", source: """
        local n = 0
        for i = 1, #ARGV do
          if redis.call('LREM', KEYS[1], -1, ARGV[i]) > 0 then
            redis.call('RPUSH', KEYS[2], ARGV[i])
            n = n + 1
          end
        end
        return n
        """)

    /// Moves due delayed jobs and retries to the ready list. KEYS: scheduled, ready.
    /// ARGV: now in ms, most jobs to move. Returns how many moved.
    public static let promote = RedisScript(name: "promote", source: """
        local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2])
        for _, job in ipairs(due) do
          redis.call('ZREM', KEYS[1], job)
          redis.call('LPUSH', KEYS[2], job)
        end
        return #due
        """)

    /// Recovers the in-flight jobs of a worker that died. KEYS: its in-flight list, ready, dead, crashes.
    /// ARGV: crash limit, now in ms, queue name, worker id, dead-set capacity.
    /// Each job goes back to the front of the ready list, or — once it has taken down its worker
    /// the limit number of times — to the dead set. Returns {restored, buried}.
    public static let recover = RedisScript(name: "recover", source: """
        local restored, buried = 0, 0
        local limit = tonumber(ARGV[1])
        while true do
          local job = redis.call('RPOP', KEYS[1])
          if not job then break end
          local ok, decoded = pcall(cjson.decode, job)
          local id = ok and type(decoded) == 'table' and decoded.id or nil
          local crashes = 1
          if id then crashes = redis.call('HINCRBY', KEYS[4], id, 1) end
          if id and crashes >= limit then
            redis.call('HDEL', KEYS[4], id)
            local err = cjson.encode({type = 'WorkerCrashed', at = tonumber(ARGV[2]) / 1000,
              message = 'the job was running when its worker process died, ' .. crashes .. ' times (last: worker ' .. ARGV[4] .. ')'})
            local record = '{"died_at":' .. ARGV[2] .. ',"error":' .. err .. ',"job":' .. job .. ',"queue":' .. cjson.encode(ARGV[3]) .. '}'
            redis.call('ZADD', KEYS[3], ARGV[2], record)
            redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[5]) + 1))
            buried = buried + 1
          else
            redis.call('RPUSH', KEYS[2], job)
            restored = restored + 1
          end
        end
        return {restored, buried}
        """)

    /// Enqueues a scheduler entry's job for one tick, once: the tick must be later than the last
    /// one enqueued for the entry. KEYS: the entry's last-tick key, ready. ARGV: tick in ms, job JSON.
    /// Returns 1 if this call enqueued it, 0 if another scheduler already had.
    public static let enqueueTick = RedisScript(name: "enqueue_tick", source: """
        local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
        if tonumber(ARGV[1]) <= last then return 0 end
        redis.call('SET', KEYS[1], ARGV[1])
        redis.call('LPUSH', KEYS[2], ARGV[2])
        return 1
        """)

    /// Takes one record out of the dead set and enqueues a job. KEYS: dead, ready.
    /// ARGV: the dead record, the job payload to enqueue. Returns 0 if the record was gone.
    public static let resurrect = RedisScript(name: "resurrect", source: """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
        redis.call('LPUSH', KEYS[2], ARGV[2])
        return 1
        """)

    /// Moves one scheduled job to the ready list now. KEYS: scheduled, ready. ARGV: the member.
    public static let runNow = RedisScript(name: "run_now", source: """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
        redis.call('LPUSH', KEYS[2], ARGV[1])
        return 1
        """)
}
