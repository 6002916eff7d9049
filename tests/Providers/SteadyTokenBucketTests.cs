using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using VNodeMesh.Silo.Providers;

namespace VNodeMesh.Tests.Providers;

public sealed class SteadyTokenBucketTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task The_burst_is_granted_at_once_then_waiters_are_served_in_order_at_the_rate()
    {
        using var bucket = new SteadyTokenBucket(burst: 5, perSecond: 10, _time);
        var burst = Enumerable.Range(0, 5).Select(_ => bucket.AcquireAsync()).ToList();
        var waiters = Enumerable.Range(0, 3).Select(_ => bucket.AcquireAsync().AsTask()).ToList();

        Assert.All(burst, lease => Assert.True(lease.IsCompletedSuccessfully && lease.Result.IsAcquired));
        Assert.Equal(3, bucket.GetStatistics().CurrentQueuedCount);
        Assert.Equal(0, Served(waiters));

        _time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.Equal(0, Served(waiters));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await waiters[0];
        Assert.Equal(1, Served(waiters));
        _time.Advance(TimeSpan.FromMilliseconds(200));
        await Task.WhenAll(waiters);
        Assert.All(waiters, w => Assert.True(w.Result.IsAcquired));
        Assert.Equal(8, bucket.GetStatistics().TotalSuccessfulLeases);
    }

    [Fact]
    public async Task A_wake_that_comes_late_loses_no_budget()
    {
        using var bucket = new SteadyTokenBucket(burst: 10, perSecond: 10, _time);
        Assert.True(bucket.AttemptAcquire(10).IsAcquired);
        var waiters = Enumerable.Range(0, 10).Select(_ => bucket.AcquireAsync().AsTask()).ToList();

        // One wake a second late, as on a saturated machine: the second's refill serves all ten.
        _time.AdjustTime(_time.GetUtcNow() + TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromMilliseconds(100));

        await Task.WhenAll(waiters);
        Assert.Equal(0, bucket.GetStatistics().CurrentAvailablePermits);
    }

    [Fact]
    public void A_bucket_full_for_an_hour_gives_one_burst_not_two_and_says_how_long_it_was_idle()
    {
        using var bucket = new SteadyTokenBucket(burst: 5, perSecond: 10, _time);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(TimeSpan.FromHours(1), bucket.IdleDuration);
        Assert.True(bucket.AttemptAcquire(5).IsAcquired);
        Assert.Null(bucket.IdleDuration);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.False(bucket.AttemptAcquire().IsAcquired);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(bucket.AttemptAcquire().IsAcquired);

        // Full again half a second after that token (5 at 10/s), idle since then.
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(0.5), bucket.IdleDuration);
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_its_place_to_the_next()
    {
        using var bucket = new SteadyTokenBucket(burst: 1, perSecond: 10, _time);
        Assert.True(bucket.AttemptAcquire().IsAcquired);
        using var cancel = new CancellationTokenSource();
        var first = bucket.AcquireAsync(1, cancel.Token).AsTask();
        var second = bucket.AcquireAsync().AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.Equal(1, bucket.GetStatistics().CurrentQueuedCount);
        _time.Advance(TimeSpan.FromMilliseconds(100));

        Assert.True((await second).IsAcquired);
        Assert.Equal(0, bucket.GetStatistics().CurrentQueuedCount);
    }

    [Fact]
    public async Task A_waiter_arriving_while_others_wait_queues_behind_them_even_if_tokens_are_there()
    {
        using var bucket = new SteadyTokenBucket(burst: 2, perSecond: 10, _time);
        Assert.True(bucket.AttemptAcquire(2).IsAcquired);
        var big = bucket.AcquireAsync(2).AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(100));

        // A token is there, but the first waiter needs two: nobody jumps the queue.
        Assert.False(bucket.AttemptAcquire().IsAcquired);
        var small = bucket.AcquireAsync().AsTask();
        Assert.False(big.IsCompleted || small.IsCompleted);

        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True((await big).IsAcquired);
        Assert.False(small.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True((await small).IsAcquired);
    }

    [Fact]
    public async Task Disposing_refuses_the_waiters_and_a_request_beyond_the_burst_is_refused_by_name()
    {
        var bucket = new SteadyTokenBucket(burst: 1, perSecond: 1, _time);
        Assert.True(bucket.AttemptAcquire().IsAcquired);
        var waiter = bucket.AcquireAsync().AsTask();

        var tooMany = Assert.Throws<ArgumentOutOfRangeException>(() => bucket.AttemptAcquire(2));
        Assert.Equal("permitCount", tooMany.ParamName);
        bucket.Dispose();

        Assert.False((await waiter).IsAcquired);
        Assert.Throws<ObjectDisposedException>(() => bucket.AttemptAcquire());
    }

    private static int Served(IEnumerable<Task<RateLimitLease>> waiters) => waiters.Count(w => w.IsCompleted);
}
