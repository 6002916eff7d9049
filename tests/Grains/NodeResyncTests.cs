using System.Collections.Concurrent;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Grains;

/// <summary>
/// Messages between grains can be lost (a silo dies, a call times out under load). A virtual node's
/// view and its pods' stages must still converge: the node's periodic resync makes good what was lost.
/// </summary>
public sealed class NodeResyncTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly Dictionary<string, string?> FastResync = new() { ["VNodeMesh:VirtualNodes:ResyncInterval"] = "00:00:01" };

    [Fact]
    public async Task A_node_that_missed_stage_reports_learns_the_pods_stages_again()
    {
        await using var cluster = await VNodeMeshTestCluster.StartAsync(settings: FastResync);
        var pods = Enumerable.Range(0, 6).Select(i => TestPods.Create($"reported-{i}")).ToList();
        await cluster.SubmitAsync(pods);
        await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage == PodStage.Running, Timeout);
        await WaitForNodeAsync(cluster, s => s.PodsByStage.GetValueOrDefault(PodStage.Running) == 6);

        // What the node is left believing when the reports of three pods' last steps are lost, once
        // their instances' changes are older than what an ordinary poll looks back over.
        await Task.Delay(TimeSpan.FromSeconds(5));
        await cluster.VirtualNode.OnPodStagesChanged(pods.Take(3).Select(p => new PodStageChange(p.Uid(), PodStage.Running, PodStage.Scheduling)).ToList());
        Assert.Equal(3, (await cluster.VirtualNode.GetSummary()).PodsByStage.GetValueOrDefault(PodStage.Scheduling));

        var healed = await WaitForNodeAsync(cluster, s => s.PodsByStage.GetValueOrDefault(PodStage.Running) == 6);
        Assert.False(healed.PodsByStage.ContainsKey(PodStage.Scheduling));
    }

    [Fact]
    public async Task A_pod_whose_instance_statuses_never_reached_it_asks_the_provider()
    {
        // The node's polls never carry these pods' statuses, as if every status sent to them were lost.
        var muted = new HashSet<string>();
        await using var cluster = await VNodeMeshTestCluster.StartAsync(settings: FastResync,
            wrapProvider: provider => new StatusesLost(provider, muted));
        var pods = Enumerable.Range(0, 4).Select(i => TestPods.Create($"unheard-{i}")).ToList();
        foreach (var pod in pods.Take(2))
        {
            muted.Add(pod.Metadata.Uid);
        }

        await cluster.SubmitAsync(pods);

        var snapshots = await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage == PodStage.Running, Timeout);
        Assert.All(snapshots, s => Assert.Equal(1, cluster.Cloud.InstancesCreatedForPod(s.Uid.ToString())));
        await WaitForNodeAsync(cluster, s => s.PodsByStage.GetValueOrDefault(PodStage.Running) == 4);
    }

    [Fact]
    public async Task A_pod_whose_failed_create_was_never_heard_of_creates_again()
    {
        // These pods' first create fails, and every delivery of that outcome fails too, as calls that
        // time out on a loaded silo do: no instance exists, so no status will ever come either.
        var lost = new OutcomesLost();
        await using var cluster = await VNodeMeshTestCluster.StartAsync(configureSilo: silo => silo.AddIncomingGrainCallFilter(lost),
            wrapProvider: provider => new FirstCreateFails(provider, lost));
        var pods = Enumerable.Range(0, 4).Select(i => TestPods.Create($"outcome-{i}")).ToList();
        foreach (var pod in pods.Take(2))
        {
            lost.Mute(pod.Uid());
        }

        await cluster.SubmitAsync(pods);

        var snapshots = await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage == PodStage.Running, Timeout);
        Assert.All(snapshots, s => Assert.Equal(1, cluster.Cloud.InstancesCreatedForPod(s.Uid.ToString())));
        Assert.Equal(2 * OutcomesLost.Deliveries, lost.Dropped);
    }

    private static async Task<VirtualNodeSummary> WaitForNodeAsync(VNodeMeshTestCluster cluster, Func<VirtualNodeSummary, bool> done)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var summary = await cluster.VirtualNode.GetSummary();
            if (done(summary))
            {
                return summary;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the node's view did not converge: {string.Join(", ", summary.PodsByStage)}");
            await Task.Delay(100);
        }
    }

    /// <summary>Drops the given pods' instances from "changed since" answers; everything else goes through.</summary>
    private sealed class StatusesLost(IInstanceProvider inner, IReadOnlySet<string> podUids) : DelegatingInstanceProvider(inner)
    {
        public override async Task<ContainerGroupPage> DescribeChangedContainerGroupStatusAsync(ChangedSinceQuery query, CancellationToken cancellationToken = default)
        {
            var page = await base.DescribeChangedContainerGroupStatusAsync(query, cancellationToken);
            return page with { Items = [.. page.Items.Where(i => i.PodUid is not { } uid || !podUids.Contains(uid))] };
        }
    }

    /// <summary>Fails every delivery of a muted pod's first provider outcome (a pod grain makes ten attempts).</summary>
    private sealed class OutcomesLost : IIncomingGrainCallFilter
    {
        public const int Deliveries = 10;
        private readonly ConcurrentDictionary<Guid, int> _dropped = new();

        public int Dropped => _dropped.Values.Sum();

        public void Mute(Guid podUid) => _dropped[podUid] = 0;

        public bool IsMuted(string? podUid) => Guid.TryParse(podUid, out var uid) && _dropped.ContainsKey(uid);

        public Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.MethodName == nameof(IPodGrain.OnProviderOutcome) && context.TargetId.GetGuidKey() is var uid
                && _dropped.TryGetValue(uid, out var dropped) && dropped < Deliveries)
            {
                _dropped[uid] = dropped + 1;
                throw new TimeoutException($"the outcome for pod {uid} was lost");
            }

            return context.Invoke();
        }
    }

    private sealed class FirstCreateFails(IInstanceProvider inner, OutcomesLost lost) : DelegatingInstanceProvider(inner)
    {
        private readonly ConcurrentDictionary<string, bool> _failed = new();

        public override Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default) =>
            lost.IsMuted(request.ClientToken) && _failed.TryAdd(request.ClientToken, true)
                ? throw new TransientProviderException("ServiceUnavailable", "the first create of a muted pod fails")
                : base.CreateContainerGroupAsync(request, cancellationToken);
    }
}
