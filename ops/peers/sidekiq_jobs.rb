# Sidekiq's side of ops/bench's side-by-side drain: the same job as Ferry's ferry.record — one
# round trip that adds the job id to a set and increments a counter, pipelined — so both do the
# same Redis work per job. Loaded by `sidekiq -r` (ruby-sidekiq from Debian); ferry-bench pushes
# the jobs and counts the runs.
require "sidekiq"

# Debian pairs Sidekiq 6.4 with redis-rb 4.8, which warns on every fetch (BRPOP's positional
# timeout) unless told not to: the warning would be measured, not Sidekiq.
Redis.silence_deprecations = true
# Per-job log lines off, as in Ferry's run (it logs successes at debug): measure the queue, not the logger.
Sidekiq.logger.level = Logger::WARN

class RecordJob
  include Sidekiq::Worker

  def perform(key)
    Sidekiq.redis do |redis|
      redis.pipelined do |pipeline|
        pipeline.sadd(key, jid)
        pipeline.incr("#{key}:runs")
      end
    end
  end
end
