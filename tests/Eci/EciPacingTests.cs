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
        // A first create pays for the JIT on both sides: a server that answers its first call late starts
        // refilling its bucket late, and the client's budget would be ahead of it.
        await eci.CreateContainerGroupAsync(EciProviderTests.Request(TestPods.Create("warm-up")));
        var requests = Enumerable.Range(0, 1000).Select(i => EciProviderTests.Request(TestPods.Create($"paced-{i}"))).ToList();
        using var paced = new PacedInstanceProvider(eci, new ProviderQuotaOptions { Burst = 100, PerSecond = 100 });

        var started = DateTime.UtcNow;
        await Task.WhenAll(requests.Select(r => paced.CreateContainerGroupAsync(r)));
        var elapsed = DateTime.UtcNow - started;

        var stats = emulator.Cloud.Statistics;
        Assert.Equal(0, stats.CreateThrottled);
        Assert.Equal(1001, stats.InstancesCreated);
        // The burst at once (100 less the refill of the arrival slack), then the rest at the refill rate.
        var afterBurst = 1000 - 75;
        var achieved = afterBurst / elapsed.TotalSeconds;
        Assert.True(achieved >= 0.95 * 100, $"{afterBurst} creates after the burst took {elapsed.TotalSeconds:F2} s: {achieved:F1}/s of 100/s");
        Assert.True(achieved <= 100, $"the budget was overspent: {achieved:F1}/s");
    }

    [Theory]
    [InlineData(19.6)]
    [InlineData(20)]
    [InlineData(98)]
    [InlineData(196)]
    [InlineData(0.5)]
    [InlineData(100_000)]
    public void The_refill_step_is_whole_tokens_every_whole_millisecond_never_above_the_rate(double perSecond)
    {
        var (tokens, period) = PacedInstanceProvider.RefillStep(perSecond);
        var rate = tokens / period.TotalSeconds;

        Assert.Equal(Math.Round(period.TotalMilliseconds), period.TotalMilliseconds);
        Assert.InRange(rate, 0.98 * perSecond, perSecond * (1 + 1e-9));
    }
}
