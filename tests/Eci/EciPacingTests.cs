using System.Diagnostics;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;
using VNodeMesh.Tests.LoadTest;

namespace VNodeMesh.Tests.Eci;

/// <summary>Pacing is about time, so it runs alone: a stalled machine would lose the cloud's refill, not VNodeMesh's.</summary>
[Collection(nameof(BurstScenarioTests))]
public sealed class EciPacingTests
{
    [Fact]
    public async Task A_burst_of_a_thousand_creates_spends_the_budget_evenly_without_a_throttled_call()
    {
        // The account's budget at five times ECI's default refill, so that the test takes seconds.
        var cloud = SimulatorOptions.ZeroLatency();
        cloud.QuotaBurst = 100;
        cloud.QuotaPerSecond = 100;
        await using var emulator = await EciProviderTests.StartEmulatorAsync(cloud);
        var eci = EciProviderTests.Provider(emulator, o => o.MaxRetries = 0);
        // A first burst pays for the JIT and the connections on both sides, then the cloud's bucket refills:
        // a cold burst's first calls can reach a loaded machine's server later than the arrival slack.
        await Task.WhenAll(Enumerable.Range(0, 75).Select(i => eci.CreateContainerGroupAsync(EciProviderTests.Request(TestPods.Create($"warm-up-{i}")))));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var requests = Enumerable.Range(0, 1000).Select(i => EciProviderTests.Request(TestPods.Create($"paced-{i}"))).ToList();
        var sent = new SendTimes(eci);
        using var paced = new PacedInstanceProvider(sent, new ProviderQuotaOptions { Burst = 100, PerSecond = 100 });

        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(requests.Select(r => paced.CreateContainerGroupAsync(r)));
        // Pacing decides when a create leaves, not how long a loaded machine takes to answer it.
        var elapsed = Stopwatch.GetElapsedTime(started, sent.Last);

        var stats = emulator.Cloud.Statistics;
        Assert.Equal(0, stats.CreateThrottled);
        Assert.Equal(1075, stats.InstancesCreated);
        // The burst at once (100 less the refill of the arrival slack), then the rest at the refill rate.
        var afterBurst = 1000 - 75;
        var achieved = afterBurst / elapsed.TotalSeconds;
        Assert.True(achieved >= 0.95 * 100, $"{afterBurst} creates after the burst were sent over {elapsed.TotalSeconds:F2} s: {achieved:F1}/s of 100/s");
        Assert.True(achieved <= 100, $"the budget was overspent: {achieved:F1}/s");
    }

    private sealed class SendTimes(IInstanceProvider inner) : DelegatingInstanceProvider(inner)
    {
        private long _last;

        public long Last => Interlocked.Read(ref _last);

        public override Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Exchange(ref _last, Stopwatch.GetTimestamp());
            return base.CreateContainerGroupAsync(request, cancellationToken);
        }
    }
}
