using System.Diagnostics;
using Orleans.Configuration;
using StackExchange.Redis;
using VNodeMesh.LoadTest.Cluster;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Redis;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Eci;
using VNodeMesh.Tests.Infrastructure;
using VNodeMesh.Tests.LoadTest;
using Xunit.Abstractions;

namespace VNodeMesh.Tests.Cluster;

/// <summary>One Redis for the tests that do not stop it, up long enough for a new bucket to start full.</summary>
public sealed class SharedRedis : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await RedisServer.StartAsync();
        using var redis = await RedisBudgetKit.ConnectAsync(Server);
        await RedisBudgetKit.WaitForUptimeAsync(redis);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// The create/delete budget shared by silo processes through Redis. Pacing is about time, so these run
/// alone; each silo is a limiter with a connection of its own.
/// </summary>
[Collection(nameof(BurstScenarioTests))]
public sealed class RedisBudgetTests(SharedRedis shared, ITestOutputHelper output) : IClassFixture<SharedRedis>
{
    // ECI's shape at five times its refill, so that a test takes seconds: a burst of 75 and 98 per second.
    private static readonly ProviderQuotaOptions Quota = new() { Burst = 100, PerSecond = 100, RedisTimeout = TimeSpan.FromSeconds(1) };
    private static readonly BudgetShape Shape = BudgetShape.Of(Quota);

    [Fact]
    public async Task Three_silos_sharing_one_budget_never_get_more_than_the_bucket_and_nearly_all_of_it()
    {
        var key = RedisBudgetKit.NewKey();
        var silos = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => RedisBudgetKit.ConnectAsync(shared.Server)));
        var limiters = silos.Select(redis => new RedisProviderBudget(redis, key).Create(Quota)).ToArray();
        try
        {
            // Each silo takes a first token, which pays for the JIT and loads the script; the bucket is full again 0.1 s later.
            await Task.WhenAll(limiters.Select(l => l.AcquireAsync(1).AsTask()));
            await Task.Delay(TimeSpan.FromSeconds(0.1));
            var window = TimeSpan.FromSeconds(3);
            var allowed = Shape.Burst + Shape.PerSecond * window.TotalSeconds;
            var clock = Stopwatch.StartNew();
            using var stop = new CancellationTokenSource(window);
            var grants = new System.Collections.Concurrent.ConcurrentQueue<(int Silo, double At)>();

            // Three times what the bucket can give in the window, spread over the three silos.
            var demand = Enumerable.Range(0, 3 * (int)allowed).Select(async i =>
            {
                try
                {
                    using var lease = await limiters[i % 3].AcquireAsync(1, stop.Token);
                    Assert.True(lease.IsAcquired);
                    grants.Enqueue((i % 3, clock.Elapsed.TotalSeconds));
                }
                catch (OperationCanceledException)
                {
                }
            });
            await Task.WhenAll(demand);

            // Every lease granted counts, even one seen late on a busy machine: the demand stopped at the window's end.
            var granted = grants.Count;
            var seconds = window.TotalSeconds;
            Assert.True(granted <= Shape.Burst + Shape.PerSecond * (seconds + 0.05) + 1, $"{granted} grants in {seconds:F2} s");

            // Never more than the bucket over any stretch either (each grant is seen a little after Redis made it).
            var times = grants.Select(g => g.At).Order().ToArray();
            const double seenLate = 0.25;
            for (var i = 0; i < times.Length; i++)
            {
                for (var j = i; j < times.Length; j++)
                {
                    Assert.True(j - i + 1 <= Shape.Burst + Shape.PerSecond * (times[j] - times[i] + seenLate),
                        $"{j - i + 1} grants between {times[i]:F3} s and {times[j]:F3} s");
                }
            }

            var precision = granted / (Shape.Burst + Shape.PerSecond * seconds);
            var bySilo = string.Join("/", Enumerable.Range(0, 3).Select(s => grants.Count(g => g.Silo == s)));
            output.WriteLine($"{granted} grants in {seconds:F2} s ({bySilo} by silo): {precision:P1} of the budget's {Shape.Burst} + {Shape.PerSecond}/s, "
                + $"{granted / (Quota.Burst + Quota.PerSecond * seconds):P1} of the quota's {Quota.Burst} + {Quota.PerSecond}/s");
            Assert.True(precision >= 0.95, $"{granted} grants in {seconds:F2} s: {precision:P1} of the budget");
        }
        finally
        {
            Dispose(limiters, silos);
        }
    }

    [Fact]
    public async Task Three_paced_providers_on_one_redis_budget_are_never_throttled_by_the_cloud()
    {
        // The account's own bucket, as the end-to-end pacing test has it.
        var options = SimulatorOptions.ZeroLatency();
        options.QuotaBurst = Quota.Burst;
        options.QuotaPerSecond = Quota.PerSecond;
        var cloud = new SimulatedCloud(options);
        var key = RedisBudgetKit.NewKey();
        var silos = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => RedisBudgetKit.ConnectAsync(shared.Server)));
        var providers = silos.Select(redis => new PacedInstanceProvider(cloud, Quota, new RedisProviderBudget(redis, key))).ToArray();
        try
        {
            // A first create on each silo pays for the JIT and loads the script (a few of the 75 tokens, soon refilled).
            await Task.WhenAll(providers.Select((provider, silo) => provider.CreateContainerGroupAsync(EciProviderTests.Request(TestPods.Create($"warm-up-{silo}")))));
            const int perSilo = 150;
            var requests = providers.Select((_, silo) => Enumerable.Range(0, perSilo)
                .Select(i => EciProviderTests.Request(TestPods.Create($"silo{silo}-pod-{i}"))).ToArray()).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(0.1));

            var started = Stopwatch.StartNew();
            await Task.WhenAll(providers.SelectMany((provider, silo) => requests[silo].Select(r => provider.CreateContainerGroupAsync(r))));
            var elapsed = started.Elapsed.TotalSeconds;

            var stats = cloud.Statistics;
            Assert.Equal(0, stats.CreateThrottled);
            Assert.Equal(3 + 3 * perSilo, stats.InstancesCreated);
            // The burst at once, then the rest at the refill rate.
            var achieved = (3 * perSilo - Shape.Burst) / elapsed;
            output.WriteLine($"{3 * perSilo} creates from 3 silos in {elapsed:F2} s: {achieved:F1}/s after the burst of {Shape.Burst} ({achieved / Quota.PerSecond:P1} of the quota), 0 throttled");
            Assert.True(achieved >= 0.9 * Quota.PerSecond, $"{achieved:F1}/s of {Quota.PerSecond}/s");
            Assert.True(achieved <= Quota.PerSecond, $"the budget was overspent: {achieved:F1}/s");
        }
        finally
        {
            foreach (var provider in providers)
            {
                provider.Dispose();
            }

            Dispose([], silos);
        }
    }

    [Fact]
    public async Task Waiters_of_one_silo_are_served_in_order_and_a_cancelled_one_leaves_its_place()
    {
        using var redis = await RedisBudgetKit.ConnectAsync(shared.Server);
        using var limiter = new RedisTokenBucketRateLimiter(redis, new(RedisBudgetKit.NewKey(), Burst: 1, PerSecond: 20));
        var waiters = new List<Task<System.Threading.RateLimiting.RateLimitLease>>();
        var outOfOrder = 0;
        for (var i = 0; i < 12; i++)
        {
            var earlier = waiters.ToArray();
            var waiter = limiter.AcquireAsync(1).AsTask();
            _ = waiter.ContinueWith(_ =>
            {
                if (earlier.Any(e => !e.IsCompleted))
                {
                    Interlocked.Increment(ref outOfOrder);
                }
            }, TaskScheduler.Default);
            waiters.Add(waiter);
        }

        Assert.All(await Task.WhenAll(waiters), lease => Assert.True(lease.IsAcquired));
        Assert.Equal(0, outOfOrder);

        // The bucket is empty: a token is due in 50 ms. A waiter cancelled before it leaves the queue to the next one.
        using var cancel = new CancellationTokenSource();
        var cancelled = limiter.AcquireAsync(1, cancel.Token).AsTask();
        var next = limiter.AcquireAsync(1).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.True((await next).IsAcquired);
        var statistics = limiter.GetStatistics()!;
        Assert.Equal(13, statistics.TotalSuccessfulLeases);
        Assert.Equal(0, statistics.CurrentQueuedCount);
    }

    [Fact]
    public async Task A_waiter_cancelled_while_the_bucket_refills_returns_at_once()
    {
        using var redis = await RedisBudgetKit.ConnectAsync(shared.Server);
        using var limiter = new RedisTokenBucketRateLimiter(redis, new(RedisBudgetKit.NewKey(), Burst: 1, PerSecond: 0.2));
        Assert.True((await limiter.AcquireAsync(1)).IsAcquired);

        // The next token is 5 s away.
        var waited = Stopwatch.StartNew();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await limiter.AcquireAsync(1, cancel.Token));
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(2), $"cancelled after {waited.Elapsed.TotalSeconds:F2} s");
        Assert.False(limiter.AttemptAcquire(1).IsAcquired);
    }

    [Fact]
    public async Task Two_clusters_sharing_a_redis_keep_their_own_budgets()
    {
        using var redis = await RedisBudgetKit.ConnectAsync(shared.Server);
        var blue = new RedisProviderBudget(redis, RedisProviderBudget.KeyFor(new ClusterOptions { ServiceId = "vnodemesh", ClusterId = $"blue-{Guid.NewGuid():N}" }));
        var green = new RedisProviderBudget(redis, RedisProviderBudget.KeyFor(new ClusterOptions { ServiceId = "vnodemesh", ClusterId = $"green-{Guid.NewGuid():N}" }));
        Assert.NotEqual(blue.Key, green.Key);
        using var blueLimiter = blue.Create(Quota);
        using var greenLimiter = green.Create(Quota);

        await Task.WhenAll(Enumerable.Range(0, Shape.Burst).Select(_ => blueLimiter.AcquireAsync(1).AsTask()));

        Assert.True(await blueLimiter.PeekAsync() < 0.5 * Shape.Burst);
        Assert.Equal(Shape.Burst, await greenLimiter.PeekAsync(), precision: 6);
    }

    [Fact]
    public async Task Redis_killed_mid_run_fails_creates_as_transient_grants_nothing_and_pacing_resumes_from_its_aof()
    {
        await using var server = await RedisServer.StartAsync();
        using var admin = await RedisBudgetKit.ConnectAsync(server);
        using var redis = await RedisBudgetKit.ConnectAsync(server);
        var budget = new RedisProviderBudget(redis, RedisBudgetKit.NewKey());
        using var limiter = budget.Create(Quota);
        var clock = Stopwatch.StartNew();
        var demand = new Demand(clock);
        double restartedAt;

        // Pacing, then Redis dies under the waiters.
        using (var stop = new CancellationTokenSource())
        {
            var running = demand.RunAsync(limiter, concurrency: 20, stop.Token);
            await Task.Delay(TimeSpan.FromSeconds(1));
            var run = (string?)await admin.GetDatabase().HashGetAsync(budget.Key, "run");
            Assert.NotNull(run);
            var killedAt = clock.Elapsed.TotalSeconds;
            server.Kill();
            await Task.Delay(TimeSpan.FromSeconds(2));
            var outageEnd = clock.Elapsed.TotalSeconds;
            await stop.CancelAsync();
            await running;

            // Grants already on their way when it died may land just after; nothing later.
            Assert.True(demand.GrantsBetween(0, killedAt) > Shape.Burst);
            Assert.Equal(0, demand.GrantsBetween(killedAt + 0.2, outageEnd));
            Assert.NotEmpty(demand.Failures);
            Assert.All(demand.Failures, f =>
            {
                var transient = Assert.IsType<TransientProviderException>(f.Error);
                Assert.Equal(ProviderErrorKind.Transient, transient.Error.Kind);
                Assert.Contains("Redis", transient.Message);
                Assert.Contains(server.ConfigurationString, transient.Message);
            });
            // Waiters wait out the timeout (1 s), then fail; a new waiter is not failed sooner.
            var first = demand.Failures.Min(f => f.At) - killedAt;
            Assert.InRange(first, 0.5, 1.9);
            output.WriteLine($"killed at {killedAt:F2} s: first failure after {first:F2} s, {demand.Failures.Count} failed, 0 granted during the outage");

            // Restarted on its AOF: the bucket is there, written by the run that died.
            restartedAt = clock.Elapsed.TotalSeconds;
            await server.RestartAsync();
            Assert.Equal(run, (string?)await admin.GetDatabase().HashGetAsync(budget.Key, "run"));
        }

        var resumed = new Demand(clock);
        using (var stop = new CancellationTokenSource())
        {
            var from = clock.Elapsed.TotalSeconds;
            var running = resumed.RunAsync(limiter, concurrency: 20, stop.Token);
            await Task.Delay(TimeSpan.FromSeconds(2));
            await stop.CancelAsync();
            await running;
            var to = clock.Elapsed.TotalSeconds;

            // A restarted server cannot know what it lost, so the bucket restarts from what the cloud refilled since.
            var granted = resumed.GrantsBetween(from, to);
            output.WriteLine($"after the restart: {granted} granted in {to - from:F2} s");
            Assert.True(granted >= Shape.PerSecond, $"pacing resumed with only {granted} grants in {to - from:F2} s");
            Assert.True(granted <= Shape.PerSecond * (to - restartedAt) + 1, $"{granted} grants in the {to - restartedAt:F2} s since the restart");
        }
    }

    [Fact]
    public async Task A_redis_restarted_without_its_data_starts_the_bucket_empty_not_full()
    {
        await using var server = await RedisServer.StartAsync();
        using var redis = await RedisBudgetKit.ConnectAsync(server);
        var budget = new RedisProviderBudget(redis, RedisBudgetKit.NewKey());
        using var limiter = budget.Create(Quota);
        // As much as the burst is spent: the cloud's bucket is empty too.
        await Task.WhenAll(Enumerable.Range(0, Shape.Burst).Select(_ => limiter.AcquireAsync(1).AsTask()));

        server.Kill();
        Directory.Delete(Path.Combine(server.DataDirectory, "appendonlydir"), recursive: true);
        var clock = Stopwatch.StartNew();
        await server.RestartAsync();
        Assert.False(await redis.GetDatabase().KeyExistsAsync(budget.Key));

        var demand = new Demand(clock);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await demand.RunAsync(limiter, concurrency: 20, stop.Token);
        var elapsed = clock.Elapsed.TotalSeconds;

        output.WriteLine($"{demand.Grants.Count} granted in {elapsed:F2} s after an empty restart");
        Assert.True(demand.Grants.Count <= Shape.PerSecond * elapsed + 1, $"{demand.Grants.Count} grants in {elapsed:F2} s: a burst was spent twice");
        Assert.True(demand.Grants.Count > 0);
    }

    private static void Dispose(IEnumerable<IDisposable> limiters, IEnumerable<IConnectionMultiplexer> connections)
    {
        foreach (var disposable in limiters.Concat(connections))
        {
            disposable.Dispose();
        }
    }
}
