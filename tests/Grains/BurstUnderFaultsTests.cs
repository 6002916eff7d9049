using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Grains;

public sealed class BurstUnderFaultsTests
{
    [Fact]
    public async Task A_thousand_pods_under_transient_faults_and_throttling_all_run_with_one_instance_each()
    {
        var cloud = SimulatorOptions.ZeroLatency();
        cloud.TransientErrorRate = 0.2;
        cloud.ThrottleRate = 0.05;
        cloud.QuotaBurst = 100;
        cloud.QuotaPerSecond = 400;
        // The client paces at twice what the cloud allows, so the cloud's own bucket throttles too.
        await using var cluster = await VNodeMeshTestCluster.StartAsync(cloud, new ProviderQuotaOptions { Burst = 100, PerSecond = 800 });

        var pods = Enumerable.Range(0, 1000).Select(i => TestPods.Create($"faulty-{i}")).ToList();
        await cluster.SubmitAsync(pods);
        var snapshots = await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage == PodStage.Running, TimeSpan.FromMinutes(3));

        var stats = cluster.Cloud.Statistics;
        Assert.Equal(1000, snapshots.Count);
        Assert.Equal(0, stats.DuplicateInstances);
        Assert.Equal(1000, stats.InstancesCreated);
        Assert.True(stats.TransientErrorsInjected > 100, $"only {stats.TransientErrorsInjected} transient errors were injected");
        Assert.True(stats.CreateThrottled > 0, "no create was throttled");
        Assert.All(pods, p => Assert.Equal(1, cluster.Cloud.InstancesCreatedForPod(p.Metadata.Uid)));
        // Retries are visible in the pods' traces, with their error codes.
        Assert.Contains(snapshots, s => s.History.Any(h => h.To == PodStage.BackingOff && h.ErrorCode is not null));
    }
}
