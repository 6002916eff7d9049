using System.Threading.RateLimiting;

namespace VNodeMesh.Silo.Providers;

/// <summary>
/// A token bucket refilled by the time that has passed, its waiters served in order: a budget a busy
/// process spends in full. The runtime's <see cref="TokenBucketRateLimiter"/> either adds a period's tokens
/// per timer tick, so every tick a saturated silo delays is budget lost, or (replenished by hand) counts the
/// time since it was last not full, so a bucket that stayed full for a while refills at once when next
/// spent: a second burst.
/// </summary>
public sealed class SteadyTokenBucket : RateLimiter
{
    private static readonly RateLimitLease Granted = new Lease(true);
    private static readonly RateLimitLease Refused = new Lease(false);

    private readonly Lock _lock = new();
    private readonly int _burst;
    private readonly double _perSecond;
    private readonly TimeProvider _time;
    // Armed, while anyone waits, for when the first waiter's tokens will be there.
    private readonly ITimer _wake;
    private readonly LinkedList<Waiter> _waiters = new();
    private double _tokens;
    private long _refilledAt;
    private long _queuedPermits;
    private long _granted;
    private long _refused;
    private bool _disposed;

    public SteadyTokenBucket(int burst, double perSecond, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perSecond);
        _burst = burst;
        _perSecond = perSecond;
        _time = time ?? TimeProvider.System;
        _tokens = burst;
        _refilledAt = _time.GetTimestamp();
        _wake = _time.CreateTimer(static bucket => ((SteadyTokenBucket)bucket!).Serve(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                // Idle since the refill made the bucket full, which can lie between two refills.
                var fullAt = _refilledAt + (long)((_burst - _tokens) / _perSecond * _time.TimestampFrequency);
                var now = _time.GetTimestamp();
                return _waiters.Count > 0 || now < fullAt ? null : _time.GetElapsedTime(fullAt, now);
            }
        }
    }

    public override RateLimiterStatistics GetStatistics()
    {
        lock (_lock)
        {
            Refill();
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = (long)_tokens,
                CurrentQueuedCount = _queuedPermits,
                TotalSuccessfulLeases = _granted,
                TotalFailedLeases = _refused,
            };
        }
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permitCount, _burst);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (TryTake(permitCount))
            {
                return Granted;
            }

            _refused++;
            return Refused;
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permitCount, _burst);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (TryTake(permitCount))
            {
                return ValueTask.FromResult(Granted);
            }

            cancellationToken.ThrowIfCancellationRequested();
            var waiter = new Waiter(this, permitCount);
            waiter.Node = _waiters.AddLast(waiter);
            _queuedPermits += permitCount;
            if (_waiters.Count == 1)
            {
                ScheduleWake();
            }

            // Registered under the lock: a token cancelled meanwhile runs Cancel on this thread, which re-enters it.
            waiter.Cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Cancel(token), waiter);
            return new ValueTask<RateLimitLease>(waiter.Task);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        List<Waiter> waiting;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            waiting = [.. _waiters];
            _waiters.Clear();
            _queuedPermits = 0;
        }

        _wake.Dispose();
        foreach (var waiter in waiting)
        {
            waiter.Cancellation.Dispose();
            waiter.TrySetResult(Refused);
        }
    }

    protected override ValueTask DisposeAsyncCore()
    {
        Dispose(true);
        return ValueTask.CompletedTask;
    }

    // Caller holds the lock. Waiters keep their order: nobody takes tokens while someone waits.
    private bool TryTake(int permitCount)
    {
        Refill();
        if (_waiters.Count > 0 || _tokens + 1e-9 < permitCount)
        {
            return false;
        }

        _tokens = Math.Max(0, _tokens - permitCount);
        _granted++;
        return true;
    }

    // Caller holds the lock.
    private void Refill()
    {
        var now = _time.GetTimestamp();
        if (now > _refilledAt)
        {
            _tokens = Math.Min(_burst, _tokens + (now - _refilledAt) * _perSecond / _time.TimestampFrequency);
            _refilledAt = now;
        }
    }

    // Caller holds the lock and has a waiter.
    private void ScheduleWake()
    {
        var missing = Math.Max(0, _waiters.First!.Value.Permits - _tokens);
        var due = TimeSpan.FromSeconds(missing / _perSecond);
        _wake.Change(due < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : due, Timeout.InfiniteTimeSpan);
    }

    private void Serve()
    {
        var served = new List<Waiter>();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            Refill();
            while (_waiters.First?.Value is { } first && _tokens + 1e-9 >= first.Permits)
            {
                _tokens = Math.Max(0, _tokens - first.Permits);
                _granted++;
                Dequeue(first);
                served.Add(first);
            }

            if (_waiters.Count > 0)
            {
                ScheduleWake();
            }
        }

        foreach (var waiter in served)
        {
            waiter.Cancellation.Dispose();
            if (!waiter.TrySetResult(Granted))
            {
                // Cancelled between leaving the queue and being granted: its tokens go back.
                lock (_lock)
                {
                    _tokens = Math.Min(_burst, _tokens + waiter.Permits);
                    _granted--;
                }
            }
        }
    }

    private void Cancel(Waiter waiter, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (waiter.Node?.List is not null)
            {
                var wasFirst = _waiters.First == waiter.Node;
                Dequeue(waiter);
                if (wasFirst && _waiters.Count > 0)
                {
                    ScheduleWake();
                }
            }
        }

        waiter.TrySetCanceled(cancellationToken);
    }

    // Caller holds the lock.
    private void Dequeue(Waiter waiter)
    {
        _waiters.Remove(waiter.Node!);
        _queuedPermits -= waiter.Permits;
    }

    private sealed class Waiter(SteadyTokenBucket bucket, int permits) : TaskCompletionSource<RateLimitLease>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public int Permits { get; } = permits;

        public LinkedListNode<Waiter>? Node { get; set; }

        public CancellationTokenRegistration Cancellation { get; set; }

        public void Cancel(CancellationToken cancellationToken) => bucket.Cancel(this, cancellationToken);
    }

    private sealed class Lease(bool isAcquired) : RateLimitLease
    {
        public override bool IsAcquired => isAcquired;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
