using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Dashboard;

/// <summary>What the virtual node grain tells the dashboard: pods by name, back-offs and retries, the provider budget.</summary>
public sealed class PodLookupTests
{
    [Fact]
    public async Task A_node_finds_its_pods_by_namespace_and_name_until_they_are_deleted()
    {
        await using var cluster = await VNodeMeshTestCluster.StartAsync(silos: 1);
        var web = TestPods.Create("web");
        var other = TestPods.Create("web", configure: p => p.Metadata.NamespaceProperty = "other");
        await cluster.SubmitAsync(web, other);

        Assert.Equal(web.Uid(), await cluster.VirtualNode.FindPod("tests", "web"));
        Assert.Equal(other.Uid(), await cluster.VirtualNode.FindPod("other", "web"));
        Assert.Null(await cluster.VirtualNode.FindPod("tests", "nobody"));

        await cluster.WaitForAsync(web.Uid(), s => s.Stage == PodStage.Running, TimeSpan.FromSeconds(30));
        await cluster.VirtualNode.DeletePods([web.Uid()]);
        await KubeApi.WaitUntilAsync(async () => await cluster.VirtualNode.FindPod("tests", "web") is null, TimeSpan.FromSeconds(30),
            () => "the deleted pod is still found");
        Assert.Equal(other.Uid(), await cluster.VirtualNode.FindPod("other", "web"));
    }

    [Fact]
    public async Task The_summary_counts_back_offs_and_retries_and_reports_the_provider_budget()
    {
        await using var cluster = await VNodeMeshTestCluster.StartAsync(silos: 1, quota: new ProviderQuotaOptions { Burst = 50, PerSecond = 10 });
        var failing = TestPods.Create("no-stock", new Dictionary<string, string> { [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock" });
        var running = TestPods.Create("runs");
        await cluster.SubmitAsync(failing, running);
        await cluster.WaitForAsync(running.Uid(), s => s.Stage == PodStage.Running, TimeSpan.FromSeconds(30));
        var pod = await cluster.WaitForAsync(failing.Uid(), s => s.Attempts >= 3, TimeSpan.FromSeconds(30));

        VirtualNodeSummary summary = null!;
        await KubeApi.WaitUntilAsync(async () => (summary = await cluster.VirtualNode.GetSummary()).Retries >= 2, TimeSpan.FromSeconds(10),
            () => $"retries {summary.Retries}");
        Assert.True(summary.BackOffs >= summary.Retries, $"{summary.BackOffs} back-offs, {summary.Retries} retries");
        Assert.InRange(summary.Retries, 2, pod.Attempts + 5);
        var quota = Assert.IsType<ProviderQuotaUsage>(summary.Quota);
        Assert.False(quota.Unlimited);
        Assert.InRange(quota.Burst, 1, 50);
        Assert.InRange(quota.PerSecond, 9, 10);
        Assert.True(quota.Spent >= 4, $"spent {quota.Spent}"); // one create that worked and three that failed
        Assert.InRange(quota.Available, 0, quota.Burst);
    }

    [Fact]
    public async Task Creates_waiting_for_a_token_are_in_flight()
    {
        var cloud = new SimulatedCloud(SimulatorOptions.ZeroLatency(), TimeProvider.System);
        using var paced = new PacedInstanceProvider(cloud, new ProviderQuotaOptions { Burst = 2, PerSecond = 1, ArrivalSlack = TimeSpan.Zero, Headroom = 0 });
        var creates = Enumerable.Range(0, 5).Select(i =>
        {
            var pod = TestPods.Create($"queued-{i}");
            return paced.CreateContainerGroupAsync(new CreateContainerGroupRequest(pod.Metadata.Uid, $"queued-{i}", pod, null,
                new Dictionary<string, string> { [ContainerGroupTags.PodUid] = pod.Metadata.Uid }));
        }).ToList();

        var usage = paced.GetUsage();
        Assert.True(usage.CreatesInFlight >= 3, $"{usage.CreatesInFlight} in flight");
        Assert.True(usage.Queued >= 3, $"{usage.Queued} queued");
        Assert.Equal(0, usage.Available);
        await Task.WhenAll(creates);
        Assert.Equal(0, paced.GetUsage().CreatesInFlight);
        Assert.Equal(5, paced.GetUsage().Spent);
    }
}
