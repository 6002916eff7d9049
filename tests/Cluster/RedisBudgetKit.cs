using System.Collections.Concurrent;
using System.Diagnostics;
using StackExchange.Redis;
using VNodeMesh.LoadTest.Cluster;

namespace VNodeMesh.Tests.Cluster;

/// <summary>What the budget tests share: connections as a silo would open them, and a steady demand on a limiter.</summary>
internal static class RedisBudgetKit
{
    /// <summary>A connection of its own, quick to notice a dead server and to reconnect.</summary>
    public static async Task<ConnectionMultiplexer> ConnectAsync(RedisServer redis) =>
        await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { redis.ConfigurationString },
            AbortOnConnectFail = false,
            ConnectTimeout = 2000,
            AsyncTimeout = 2000,
            SyncTimeout = 2000,
            ReconnectRetryPolicy = new LinearRetry(200),
            HeartbeatInterval = TimeSpan.FromMilliseconds(250),
        });

    /// <summary>
    /// A bucket Redis has never seen starts with what the cloud surely refilled while this server ran (it
    /// cannot tell a new server from one that lost its data; its uptime is in whole seconds, so one less),
    /// so the tests that expect the whole burst wait until two seconds of uptime fill it.
    /// </summary>
    public static async Task WaitForUptimeAsync(IConnectionMultiplexer redis, int seconds = 2)
    {
        while ((long)await redis.GetDatabase().ScriptEvaluateAsync(
            "return tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)'))") < seconds)
        {
            await Task.Delay(100);
        }
    }

    public static RedisKey NewKey() => $"vnodemesh-tests:{Guid.NewGuid():N}:provider-budget";
}

/// <summary>Keeps <c>concurrency</c> acquisitions waiting on a limiter and notes when each ends, and how.</summary>
internal sealed class Demand
{
    private readonly Stopwatch _clock;

    public Demand(Stopwatch clock) => _clock = clock;

    public ConcurrentQueue<double> Grants { get; } = new();

    public ConcurrentQueue<(double At, Exception Error)> Failures { get; } = new();

    public Task RunAsync(System.Threading.RateLimiting.RateLimiter limiter, int concurrency, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var lease = await limiter.AcquireAsync(1, stop);
                    if (lease.IsAcquired)
                    {
                        Grants.Enqueue(_clock.Elapsed.TotalSeconds);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    Failures.Enqueue((_clock.Elapsed.TotalSeconds, ex));
                }
            }
        })));

    public int GrantsBetween(double from, double to) => Grants.Count(t => t >= from && t < to);
}
