using Spectre.Console;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Tests.Infrastructure;
using VNodeMesh.Tests.Kubernetes;

namespace VNodeMesh.Tests.Cluster;

/// <summary>
/// The burst tool with real silo processes on the cluster profile (<c>burst --kubernetes --profile
/// cluster</c>): real Redis, the real API server, SIGKILL to a real process.
/// </summary>
[Collection(KubernetesCollection.Name)]
public sealed class SiloProcessBurstTests
{
    [Fact]
    public async Task A_silo_killed_in_a_2000_pod_burst_loses_no_pod_duplicates_none_and_the_node_stays_Ready()
    {
        var (report, output) = await RunAsync(ClusterBurst(silos: 3, pods: 2000) with { KillSiloAt = 0.5 });

        var why = Explain(report, output);
        Assert.True(report.Running == 2000, $"{report.Running} of 2000 pods ran. {why}");
        Assert.True(report.Lost == 0, $"{report.Lost} pods were lost. {why}");
        Assert.True(report.DuplicateInstances == 0, $"{report.DuplicateInstances} pods got a second instance. {why}");
        Assert.True(report.SiloKills == 1, $"no silo was killed. {why}");
        Assert.True(report.NodeNotReadyObserved == false, $"the node went NotReady: {report.NodeNotReady}. {why}");
        Assert.True(report.LeaseExpired == false, $"the node's Lease expired (longest gap {report.LeaseMaxGapSeconds} s). {why}");
        Assert.True(report.FailoverSeconds is < 40, $"the killed silo's work was not owned again within the Lease's 40 s: {report.Failover}. {why}");
    }

    [Fact]
    public async Task A_silo_killed_while_pods_wait_for_the_budget_costs_no_second_create()
    {
        // At the kill most pods still wait for the budget, many of them on the surviving silos: none
        // may be activated a second time and send its create again.
        var (report, output) = await RunAsync(ClusterBurst(silos: 3, pods: 1000) with
        {
            Quota = BurstSettings.ParseQuota("100/20"),
            KillSiloAt = 0.3,
        });

        var why = Explain(report, output);
        Assert.True(report.Running == 1000, $"{report.Running} of 1000 pods ran. {why}");
        Assert.True(report.DuplicateInstances == 0, $"{report.DuplicateInstances} pods got a second instance. {why}");
        Assert.True(report.SiloKills == 1, $"no silo was killed. {why}");
        Assert.True(report.ProviderCalls.CreateReplays <= 5, $"{report.ProviderCalls.CreateReplays} creates were sent again for pods that had one. {why}");
    }

    [Fact]
    public async Task Redis_killed_and_restarted_in_a_burst_loses_no_pod_and_duplicates_none()
    {
        var (report, output) = await RunAsync(ClusterBurst(silos: 2, pods: 1000) with { RestartRedisAt = 0.3 });

        var why = Explain(report, output);
        Assert.True(report.RedisRestarts == 1, $"Redis was not restarted. {why}");
        Assert.True(report.Running == 1000, $"{report.Running} of 1000 pods ran. {why}");
        Assert.True(report.Lost == 0, $"{report.Lost} pods were lost. {why}");
        Assert.True(report.DuplicateInstances == 0, $"{report.DuplicateInstances} pods got a second instance. {why}");
    }

    [Fact]
    public async Task A_rolling_upgrade_of_every_silo_keeps_creating_pods_at_the_budgets_pace_and_loses_none()
    {
        // The chart's rolling update (a new silo ready before an old one stops) in a burst paced by the budget:
        // the pods of a stopping silo move at once, and creates whose turn had not come are made again at once.
        // A minute of creates at 15/s: long enough for both silos to be replaced on a slow machine.
        var (report, output) = await RunAsync(ClusterBurst(silos: 2, pods: 900) with
        {
            Quota = BurstSettings.ParseQuota("20/15"),
            RollingUpgradeAt = 0.02,
        });

        var why = Explain(report, output);
        var upgrade = report.RollingUpgrade;
        Assert.True(upgrade is { Replacements.Count: 2, EndedAtSeconds: not null }, $"the upgrade did not replace both silos. {why}");
        Assert.True(upgrade.Replacements.All(r => r.Cleanly), $"an old silo did not stop by itself within its grace period. {why}");
        Assert.True(report.Running == 900, $"{report.Running} of 900 pods ran. {why}");
        Assert.True(report.Lost == 0, $"{report.Lost} pods were lost. {why}");
        Assert.True(report.DuplicateInstances == 0, $"{report.DuplicateInstances} pods got a second instance. {why}");
        var upgradeSeconds = upgrade.EndedAtSeconds - upgrade.StartedAtSeconds;
        Assert.True(upgrade.DuringSeconds >= upgradeSeconds - 0.2, $"the creates ended {upgrade.DuringSeconds} s into a {upgradeSeconds:0.0} s upgrade. {why}");
        // Waiting for the watchdog or the landing grace would leave a 10 s gap with no create at all.
        Assert.True(upgrade.LongestCreateGapSeconds < 5, $"no instance was created for {upgrade.LongestCreateGapSeconds} s during the upgrade. {why}");
        Assert.True(upgrade.CreatesPerSecondDuring >= 0.7 * 15, $"{upgrade.CreatesPerSecondDuring} creates/s during the upgrade, against a budget of 15/s. {why}");
        Assert.True(report.NodeNotReadyObserved == false, $"the node went NotReady: {report.NodeNotReady}. {why}");
        Assert.True(report.LeaseExpired == false, $"the node's Lease expired (longest gap {report.LeaseMaxGapSeconds} s). {why}");
    }

    /// <summary>Silo processes on the cluster profile, through the API server, with the cloud's budget and latencies out of the way.</summary>
    private static BurstSettings ClusterBurst(int silos, int pods) => new()
    {
        Kubernetes = true,
        Kubeconfig = KubeApi.KubeconfigPath,
        Profile = "cluster",
        Silos = silos,
        Pods = pods,
        Quota = BurstSettings.ParseQuota("unlimited"),
        ZeroLatency = true,
        Baseline = false,
    };

    private static async Task<(BurstReport Report, string Output)> RunAsync(BurstSettings settings)
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(TextWriter.Synchronized(text)),
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        var report = await new KubernetesBurstScenario(settings, console).RunAsync();
        return (report, text.ToString());
    }

    /// <summary>The report and the end of the tool's output, for a failed assertion.</summary>
    private static string Explain(BurstReport report, string output) =>
        $"Tool output (end): {string.Join(Environment.NewLine, output.Split(Environment.NewLine).TakeLast(25))}{Environment.NewLine}Report: {report.ToJson()}";
}
