using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Tests.LoadTest;

namespace VNodeMesh.Tests.Telemetry;

/// <summary>The burst tool with <c>--telemetry on</c>: its silos export to its collector and are scraped.</summary>
[Collection(nameof(BurstScenarioTests))]
public sealed class BurstTelemetryTests
{
    [Fact]
    public async Task A_burst_with_telemetry_runs_its_silos_with_the_full_pipeline_and_says_so()
    {
        var settings = TestBursts.Unlimited(300) with { Silos = 2, Telemetry = true };
        var report = await new BurstScenario(settings, TestBursts.Silent()).RunAsync();

        Assert.Equal(300, report.Running);
        Assert.Equal(0, report.Lost);
        Assert.True(report.Telemetry.Enabled);
        Assert.Equal(0.1, report.Telemetry.TraceSamplingRatio);
        Assert.Equal(0, report.Telemetry.ScrapeFailures);
        Assert.NotNull(report.Cpu);
        Assert.Contains("\"telemetry\": {", report.ToJson());
    }
}
