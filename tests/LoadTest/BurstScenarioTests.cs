using VNodeMesh.LoadTest.Burst;

namespace VNodeMesh.Tests.LoadTest;

[CollectionDefinition(nameof(BurstScenarioTests), DisableParallelization = true)]
public sealed class BurstCollection;

/// <summary>The burst tool measures the whole process, so it runs alone.</summary>
[Collection(nameof(BurstScenarioTests))]
public sealed class BurstScenarioTests
{
    [Fact]
    public async Task A_small_burst_on_two_silos_reports_every_pod_running()
    {
        var settings = TestBursts.Unlimited(300) with { Silos = 2 };
        var report = await new BurstScenario(settings, TestBursts.Silent()).RunAsync();

        Assert.Equal(300, report.Running);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.DuplicateInstances);
        Assert.Equal(300, report.ProviderCalls.Create);
        Assert.True(report.PodsPerSecond > 0);
        Assert.True(report.StartupLatencyMs.P50 > 0 && report.StartupLatencyMs.P50 <= report.StartupLatencyMs.Max);
        Assert.Null(report.QuotaEfficiency);
        Assert.Contains("\"duplicateInstances\": 0", report.ToJson());
    }

    [Fact]
    public async Task A_warm_up_runs_and_deletes_its_own_pods_and_the_report_counts_only_the_burst()
    {
        var settings = TestBursts.Unlimited(200) with { WarmupPods = 150 };
        var report = await new BurstScenario(settings, TestBursts.Silent()).RunAsync();

        Assert.Equal(200, report.Running);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.DuplicateInstances);
        Assert.Equal(200, report.ProviderCalls.Create);
        Assert.Equal(0, report.ProviderCalls.Delete);
        Assert.Equal(200, Assert.Single(report.PodsByStage, stage => stage.Key == "Running").Value);
        Assert.Single(report.PodsByStage);
        Assert.Equal(150, report.WarmupPods);
        Assert.InRange(report.WarmupRounds, 1, 5);
        Assert.Contains(report.Steps, step => step.Name == "warm-up" && step.Seconds > 0);
    }

    [Fact]
    public void A_warm_up_is_the_default_only_where_it_spends_no_budget()
    {
        Assert.Equal(2000, new BurstSettings { Pods = 50_000, Quota = BurstSettings.ParseQuota("unlimited") }.DefaultWarmupPods);
        Assert.Equal(300, new BurstSettings { Pods = 300, Quota = BurstSettings.ParseQuota("unlimited") }.DefaultWarmupPods);
        Assert.Equal(0, new BurstSettings { Pods = 50_000 }.DefaultWarmupPods);
        Assert.Equal(0, new BurstSettings { Pods = 50_000, Quota = BurstSettings.ParseQuota("unlimited"), Kubernetes = true }.DefaultWarmupPods);
    }

    [Theory]
    [InlineData("100/20", 100, 20.0)]
    [InlineData("5/0.5", 5, 0.5)]
    public void Quota_is_parsed(string text, int burst, double perSecond)
    {
        var quota = BurstSettings.ParseQuota(text);
        Assert.Equal(burst, quota.Burst);
        Assert.Equal(perSecond, quota.PerSecond);
        Assert.False(quota.Unlimited);
    }

    [Theory]
    [InlineData("100")]
    [InlineData("0/20")]
    [InlineData("a/b")]
    public void A_bad_quota_is_refused_with_its_text(string text)
    {
        var error = Assert.Throws<FormatException>(() => BurstSettings.ParseQuota(text));
        Assert.Contains(text, error.Message);
    }
}
