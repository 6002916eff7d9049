using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Tests.LoadTest;

namespace VNodeMesh.Tests.Dashboard;

/// <summary>The burst tool with <c>--dashboard on</c> (or <c>profiled</c>): its silos serve the dashboard behind its token, and it views them.</summary>
[Collection(nameof(BurstScenarioTests))]
public sealed class BurstDashboardTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_burst_with_the_dashboard_on_settles_every_pod_while_the_dashboard_is_viewed_without_a_failure(bool profileGrainCalls)
    {
        var settings = TestBursts.Unlimited(200) with { Silos = 2, Dashboard = true, ProfileGrainCalls = profileGrainCalls };
        var report = await new BurstScenario(settings, TestBursts.Silent()).RunAsync();

        Assert.Equal(200, report.Running);
        Assert.Equal(0, report.Lost);
        Assert.True(report.Dashboard.Enabled);
        Assert.Equal(profileGrainCalls, report.Dashboard.ProfileGrainCalls);
        Assert.Equal(1, report.Dashboard.ViewIntervalSeconds);
        Assert.True(report.Dashboard.Requests > 0);
        Assert.True(report.Dashboard.Failures == 0, report.Dashboard.FirstFailure);
        Assert.True(report.Dashboard.Bytes > 0);
        Assert.False(report.Telemetry.Enabled);
        Assert.Contains("\"dashboard\": {", report.ToJson());
    }
}
