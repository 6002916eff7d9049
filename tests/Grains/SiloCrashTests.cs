using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Grains;

public sealed class SiloCrashTests
{
    [Fact]
    public async Task Killing_a_silo_mid_burst_loses_no_pod_and_duplicates_no_instance()
    {
        var cloud = SimulatorOptions.Realistic();
        cloud.SchedulingSeconds = new LatencyDistribution(0.2, 0.5);
        cloud.PendingSeconds = new LatencyDistribution(0.5, 1.5);
        cloud.QuotaBurst = 100;
        cloud.QuotaPerSecond = 150;
        await using var cluster = await VNodeMeshTestCluster.StartAsync(cloud, new ProviderQuotaOptions { Burst = 100, PerSecond = 150 });

        var pods = Enumerable.Range(0, 1000).Select(i => TestPods.Create($"crash-{i}")).ToList();
        var submit = cluster.SubmitAsync(pods);

        // Kill the second silo while creates are queued behind the budget and instances are starting.
        await WaitUntilAsync(() => cluster.Cloud.Statistics.InstancesCreated >= 300, TimeSpan.FromMinutes(1));
        var victim = cluster.Cluster.Silos[1];
        await cluster.Cluster.KillSiloAsync(victim);

        await submit;
        var snapshots = await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage == PodStage.Running, TimeSpan.FromMinutes(3));

        Assert.Equal(1000, snapshots.Count);
        Assert.Equal(0, cluster.Cloud.Statistics.DuplicateInstances);
        Assert.All(pods, p => Assert.Equal(1, cluster.Cloud.InstancesCreatedForPod(p.Metadata.Uid)));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the burst did not get going");
            await Task.Delay(50);
        }
    }
}
