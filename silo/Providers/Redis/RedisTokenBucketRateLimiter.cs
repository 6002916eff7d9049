using System.Globalization;
using System.Threading.RateLimiting;
using StackExchange.Redis;

namespace VNodeMesh.Silo.Providers.Redis;

/// <summary>The bucket a <see cref="RedisTokenBucketRateLimiter"/> spends: its key, size and refill.</summary>
public sealed record RedisTokenBucketOptions(RedisKey Key, int Burst, double PerSecond)
{
    /// <summary>How long a waiter waits for Redis to answer before it fails with a transient provider error.</summary>
    public TimeSpan UnavailableTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many queued waiters one script call may serve.</summary>
    public int BatchSize { get; init; } = 64;
}

/// <summary>
/// A token bucket kept in Redis and spent by every process that names the same key. One Lua script
/// refills it from Redis's own clock (<c>TIME</c>) and takes tokens atomically, so the processes' clocks
/// never matter and nobody holds a share of it. Each process queues its waiters in order and one loop
/// asks Redis for them; when the bucket is short the script says when the next token is due and the
/// loop sleeps until then, so waiters never poll. When Redis does not answer, waiters wait up to
/// <see cref="RedisTokenBucketOptions.UnavailableTimeout"/> and then fail with a
/// <see cref="TransientProviderException"/> naming Redis: nothing is granted without Redis.
/// </summary>
public sealed partial class RedisTokenBucketRateLimiter : RateLimiter
{
    /// <summary>
    /// KEYS[1]: the bucket, a hash {tokens, ts: microseconds of Redis's clock, run: the id of the server
    /// run that wrote it}. ARGV: burst, tokens per second, key TTL in ms, then the permits of the
    /// waiters in queue order (none: only read). Returns {waiters served, microseconds until the next
    /// one can be, tokens left}.
    /// </summary>
    internal const string Script = """
        local burst = tonumber(ARGV[1])
        local rate = tonumber(ARGV[2])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local info = redis.call('INFO', 'server')
        local run = string.match(info, 'run_id:(%w+)')
        local uptime = tonumber(string.match(info, 'uptime_in_seconds:(%d+)'))
        -- The cloud's bucket has refilled at least for as long as this server has run: what a restarted
        -- server lost (everything, or the AOF's last second) was spent before it started. The uptime is a
        -- difference of whole seconds, up to one more than the time elapsed.
        local floor = math.min(burst, math.max(0, uptime - 1) * rate)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'run')
        local tokens = tonumber(state[1])
        local ts = tonumber(state[2])
        if tokens == nil or ts == nil then
          tokens = floor
        else
          -- A clock stepped back refills nothing; ts follows it, so nothing is refilled twice.
          if now > ts then
            tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)
          end
          if state[3] ~= run then
            tokens = math.min(tokens, floor)
          end
        end
        local served = 0
        local wait = 0
        for i = 4, #ARGV do
          local want = tonumber(ARGV[i])
          if tokens + 1e-9 < want then
            wait = math.ceil((want - tokens) * 1000000 / rate)
            break
          end
          tokens = math.max(0, tokens - want)
          served = served + 1
        end
        if #ARGV > 3 then
          redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now), 'run', run)
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
        end
        return {served, wait, string.format('%.17g', tokens)}
        """;

    private static readonly RateLimitLease Granted = new Lease(true, null);
    private static readonly RateLimitLease NotSynchronously = new Lease(false, "the bucket is in Redis: acquire it asynchronously");
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisTokenBucketOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisKey[] _keys;
    private readonly RedisValue[] _bucket;
    private readonly Lock _gate = new();
    private readonly Queue<Waiter> _queue = new();
    private readonly CancellationTokenSource _disposed = new();
    private bool _pumping;
    private bool _closed;
    private long _idleSince;
    private long _successful;
    private long _failed;
    private double _lastTokens;

    // Touched by the pump only: when Redis stopped answering (-1: it answers), and why.
    private long _outageSince = -1;
    private Exception? _outageCause;

    public RedisTokenBucketRateLimiter(IConnectionMultiplexer redis, RedisTokenBucketOptions options, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Burst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.PerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        _redis = redis;
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _keys = [options.Key];
        // The key outlives a full refill, so a missing key means a full bucket (or a server that lost it).
        var ttl = (long)Math.Ceiling(options.Burst / options.PerSecond * 1000) + (long)TimeSpan.FromMinutes(10).TotalMilliseconds;
        _bucket = [options.Burst, options.PerSecond.ToString("R", CultureInfo.InvariantCulture), ttl];
        _idleSince = _time.GetTimestamp();
        _lastTokens = options.Burst;
    }

    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_gate)
            {
                return _pumping ? null : _time.GetElapsedTime(_idleSince);
            }
        }
    }

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_gate)
        {
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = (long)_lastTokens,
                CurrentQueuedCount = _queue.Count(w => !w.Task.IsCompleted),
                TotalSuccessfulLeases = _successful,
                TotalFailedLeases = _failed,
            };
        }
    }

    /// <summary>What Redis holds now, without taking anything: the tokens available, or an exception when Redis does not answer.</summary>
    public async Task<double> PeekAsync(CancellationToken cancellationToken = default) =>
        (await EvaluateAsync([]).WaitAsync(cancellationToken)).Tokens;

    /// <summary>A synchronous attempt would wait on the network: it is refused, and callers use <see cref="RateLimiter.AcquireAsync"/>.</summary>
    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        CheckPermits(permitCount);
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        if (permitCount == 0)
        {
            return Granted;
        }

        Interlocked.Increment(ref _failed);
        return NotSynchronously;
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        CheckPermits(permitCount);
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitLease>(cancellationToken);
        }

        if (permitCount == 0)
        {
            return new(Granted);
        }

        var waiter = new Waiter(permitCount, _time.GetTimestamp());
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the waiter is queued, so that its registration is always released when it completes.
            waiter.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).TrySetCanceled(token), waiter);
        }

        bool start;
        lock (_gate)
        {
            if (_closed)
            {
                waiter.Registration.Dispose();
                throw new ObjectDisposedException(nameof(RedisTokenBucketRateLimiter));
            }

            _queue.Enqueue(waiter);
            start = !_pumping;
            _pumping = true;
        }

        if (start)
        {
            _ = PumpAsync();
        }

        return new(waiter.Task);
    }

    protected override void Dispose(bool disposing)
    {
        if (!disposing || _disposed.IsCancellationRequested)
        {
            return;
        }

        _disposed.Cancel();
        Waiter[] left;
        lock (_gate)
        {
            _closed = true;
            left = [.. _queue];
            _queue.Clear();
        }

        foreach (var waiter in left)
        {
            Complete(waiter, w => w.TrySetException(new ObjectDisposedException(nameof(RedisTokenBucketRateLimiter))));
        }
    }

    protected override ValueTask DisposeAsyncCore()
    {
        Dispose(true);
        return ValueTask.CompletedTask;
    }

    private void CheckPermits(int permitCount)
    {
        if (permitCount < 0 || permitCount > _options.Burst)
        {
            throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount, $"between 0 and the burst ({_options.Burst})");
        }
    }

    /// <summary>Serves the queue in order, one script call at a time, until it is empty.</summary>
    private async Task PumpAsync()
    {
        var batch = new List<Waiter>(_options.BatchSize);
        var retryDelay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            batch.Clear();
            lock (_gate)
            {
                while (_queue.TryPeek(out var head) && head.Task.IsCompleted)
                {
                    _queue.Dequeue();
                }

                if (_queue.Count == 0 || _disposed.IsCancellationRequested)
                {
                    _pumping = false;
                    _idleSince = _time.GetTimestamp();
                    return;
                }

                foreach (var waiter in _queue)
                {
                    if (!waiter.Task.IsCompleted)
                    {
                        batch.Add(waiter);
                        if (batch.Count == _options.BatchSize)
                        {
                            break;
                        }
                    }
                }
            }

            try
            {
                var answer = await AskAsync(batch);
                if (_outageSince >= 0)
                {
                    LogRedisBack(Endpoints(), _time.GetElapsedTime(_outageSince).TotalSeconds);
                    _outageSince = -1;
                    _outageCause = null;
                }

                retryDelay = TimeSpan.FromMilliseconds(50);
                _lastTokens = answer.Tokens;
                for (var i = 0; i < answer.Served; i++)
                {
                    // A waiter cancelled meanwhile wastes its token: the cluster spends less, never more.
                    Complete(batch[i], static w => w.TrySetResult(Granted), success: true);
                }

                if (answer.Served < batch.Count)
                {
                    await Task.Delay(answer.NextIn, _time, _disposed.Token);
                }
            }
            catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (_outageSince < 0)
                {
                    _outageSince = _time.GetTimestamp();
                    LogRedisUnavailable(ex, Endpoints());
                }

                _outageCause = ex;
                FailOverdue();
                try
                {
                    await Task.Delay(Min(retryDelay, UntilNextDeadline() ?? retryDelay), _time, _disposed.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                retryDelay = Min(retryDelay * 2, MaxRetryDelay);
            }
        }
    }

    /// <summary>One script call for <paramref name="batch"/>; while Redis keeps it waiting, waiters past their time fail.</summary>
    private async Task<Answer> AskAsync(List<Waiter> batch)
    {
        var started = _time.GetTimestamp();
        var call = EvaluateAsync(batch.Select(w => (RedisValue)w.Permits));
        while (true)
        {
            var stalledSince = _outageSince >= 0 ? _outageSince : started;
            // With no waiter left to fail, look again after a timeout's length for the ones arriving meanwhile.
            var deadline = UntilNextDeadline(stalledSince) ?? _options.UnavailableTimeout;
            try
            {
                return await call.WaitAsync(deadline, _time, _disposed.Token);
            }
            catch (TimeoutException) when (!call.IsCompleted)
            {
                if (_outageSince < 0)
                {
                    _outageSince = started;
                    LogRedisUnavailable(null, Endpoints());
                }

                _outageCause ??= new TimeoutException("no answer");
                FailOverdue();
            }
        }
    }

    private async Task<Answer> EvaluateAsync(IEnumerable<RedisValue> permits)
    {
        var result = await _redis.GetDatabase().ScriptEvaluateAsync(Script, _keys, [.. _bucket, .. permits], CommandFlags.DemandMaster);
        var values = (RedisResult[]?)result;
        if (values is not { Length: 3 })
        {
            throw new RedisException($"unexpected answer from the budget script: {result}");
        }

        return new Answer(
            (int)values[0],
            TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond / 10, (long)values[1] * TimeSpan.TicksPerMicrosecond)),
            double.Parse((string)values[2]!, NumberStyles.Float, CultureInfo.InvariantCulture));
    }

    /// <summary>How long until the first queued waiter has waited for Redis for the whole timeout; null when none waits.</summary>
    private TimeSpan? UntilNextDeadline(long? stalledSince = null)
    {
        var since = stalledSince ?? _outageSince;
        if (since < 0)
        {
            return null;
        }

        lock (_gate)
        {
            var first = _queue.Where(w => !w.Task.IsCompleted).Select(w => (long?)Math.Max(w.EnqueuedAt, since)).FirstOrDefault();
            if (first is not { } start)
            {
                return null;
            }

            var left = _options.UnavailableTimeout - _time.GetElapsedTime(start);
            return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
        }
    }

    /// <summary>Fails the waiters that have waited for Redis for the whole timeout.</summary>
    private void FailOverdue(long? stalledSince = null)
    {
        var since = stalledSince ?? _outageSince;
        var now = _time.GetTimestamp();
        List<Waiter> overdue = [];
        lock (_gate)
        {
            foreach (var waiter in _queue)
            {
                if (!waiter.Task.IsCompleted && _time.GetElapsedTime(Math.Max(waiter.EnqueuedAt, since), now) >= _options.UnavailableTimeout)
                {
                    overdue.Add(waiter);
                }
            }
        }

        if (overdue.Count == 0)
        {
            return;
        }

        var cause = _outageCause;
        var message = $"the cluster's create/delete budget in Redis ({Endpoints()}) did not answer within {_options.UnavailableTimeout.TotalSeconds:0.###} s"
            + (cause is null ? "" : $": {cause.Message}");
        foreach (var waiter in overdue)
        {
            Complete(waiter, w => w.TrySetException(new TransientProviderException("Budget.RedisUnavailable", message, inner: cause)));
        }

        LogWaitersFailed(overdue.Count, Endpoints(), _options.UnavailableTimeout.TotalSeconds);
    }

    private void Complete(Waiter waiter, Func<Waiter, bool> complete, bool success = false)
    {
        if (complete(waiter))
        {
            Interlocked.Increment(ref success ? ref _successful : ref _failed);
        }

        waiter.Registration.Dispose();
    }

    private string Endpoints() => string.Join(",", _redis.GetEndPoints().Select(e => e.ToString()));

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster's create/delete budget cannot reach Redis ({Endpoints}); creates and deletes wait for it")]
    private partial void LogRedisUnavailable(Exception? exception, string endpoints);

    [LoggerMessage(Level = LogLevel.Information, Message = "The cluster's create/delete budget reaches Redis ({Endpoints}) again after {Seconds:0.0} s")]
    private partial void LogRedisBack(string endpoints, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} creates or deletes failed: Redis ({Endpoints}) did not answer within {Seconds} s")]
    private partial void LogWaitersFailed(int count, string endpoints, double seconds);

    private readonly record struct Answer(int Served, TimeSpan NextIn, double Tokens);

    private sealed class Waiter(int permits, long enqueuedAt) : TaskCompletionSource<RateLimitLease>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public int Permits { get; } = permits;

        public long EnqueuedAt { get; } = enqueuedAt;

        public CancellationTokenRegistration Registration { get; set; }
    }

    private sealed class Lease(bool acquired, string? reason) : RateLimitLease
    {
        public override bool IsAcquired { get; } = acquired;

        public override IEnumerable<string> MetadataNames => reason is null ? [] : [MetadataName.ReasonPhrase.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = reason;
            return reason is not null && metadataName == MetadataName.ReasonPhrase.Name;
        }
    }
}
