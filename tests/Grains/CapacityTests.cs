using VNodeMesh.Grains;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Grains;

public sealed class CapacityTests
{
    [Fact]
    public async Task Pods_past_the_node_capacity_are_refused_with_OutOfpods()
    {
        await using var cluster = await VNodeMeshTestCluster.StartAsync(settings: new Dictionary<string, string?>
        {
            ["VNodeMesh:VirtualNodes:Capacity"] = "5",
        });
        var pods = Enumerable.Range(0, 7).Select(i => TestPods.Create($"cap-{i}")).ToList();
        await cluster.SubmitAsync(pods);

        var snapshots = await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage is PodStage.Running or PodStage.Failed, TimeSpan.FromSeconds(60));
        var refused = snapshots.Where(s => s.Stage == PodStage.Failed).ToList();
        Assert.Equal(5, snapshots.Count(s => s.Stage == PodStage.Running));
        Assert.Equal(2, refused.Count);
        Assert.All(refused, s =>
        {
            Assert.Equal(VirtualNodeGrain.ReasonOutOfPods, s.Reason);
            Assert.Contains("capacity of 5 pods", s.Message);
            Assert.Equal(0, s.Attempts);
        });
        Assert.Equal(2, (await cluster.VirtualNode.GetSummary()).RefusedForCapacity);

        // A terminal or deleted pod frees its slot.
        await cluster.VirtualNode.DeletePods([snapshots.First(s => s.Stage == PodStage.Running).Uid]);
        var late = TestPods.Create("cap-late");
        await WaitForSlotAsync(cluster);
        await cluster.SubmitAsync(late);
        await cluster.WaitForAsync(late.Uid(), s => s.Stage == PodStage.Running, TimeSpan.FromSeconds(60));
    }

    private static async Task WaitForSlotAsync(VNodeMeshTestCluster cluster)
    {
        // The slot is free once the deleted pod is gone, not when it starts deleting.
        for (var i = 0; i < 100 && (await cluster.VirtualNode.GetSummary()).PodsByStage
                 .Where(s => s.Key is not (PodStage.Succeeded or PodStage.Failed)).Sum(s => s.Value) >= 5; i++)
        {
            await Task.Delay(100);
        }
    }
}
