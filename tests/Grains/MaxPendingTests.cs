using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Grains;

public sealed class MaxPendingTests
{
    [Fact]
    public async Task A_pod_not_running_within_eci_max_pending_minute_fails_and_a_running_one_does_not()
    {
        await using var cluster = await VNodeMeshTestCluster.StartAsync();
        var stuck = TestPods.Create("stuck", new Dictionary<string, string>
        {
            [PodAnnotations.MaxPendingMinute] = "10",
            [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock",
        });
        var running = TestPods.Create("running", new Dictionary<string, string> { [PodAnnotations.MaxPendingMinute] = "10" });
        await cluster.SubmitAsync(stuck, running);
        await cluster.WaitForAsync(stuck.Uid(), s => s.Stage == PodStage.BackingOff, TimeSpan.FromSeconds(30));
        await cluster.WaitForAsync(running.Uid(), s => s.Stage == PodStage.Running, TimeSpan.FromSeconds(30));

        cluster.Time.Advance(TimeSpan.FromMinutes(11));

        var expired = await cluster.WaitForAsync(stuck.Uid(), s => s.Stage == PodStage.Failed, TimeSpan.FromSeconds(30));
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, expired.Reason);
        Assert.Contains("10 minutes", expired.Message);
        Assert.Contains("NoStock", expired.Message);
        Assert.Equal(PodStage.Running, (await cluster.SnapshotAsync(running.Uid())).Stage);
    }
}
