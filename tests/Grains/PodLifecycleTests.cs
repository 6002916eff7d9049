using k8s.Models;
using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Grains;

public sealed class LifecycleClusterFixture : IAsyncLifetime
{
    public VNodeMeshTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var cloud = SimulatorOptions.ZeroLatency();
        cloud.NoStockSpecs = ["ecs.g6.xlarge"];
        Cluster = await VNodeMeshTestCluster.StartAsync(cloud);
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>The pod lifecycle through real grains on a two-silo cluster and the simulated cloud.</summary>
public sealed class PodLifecycleTests(LifecycleClusterFixture fixture) : IClassFixture<LifecycleClusterFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private VNodeMeshTestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Fail_fast_pod_fails_with_ProviderFailed_on_its_first_creation_failure()
    {
        var pod = TestPods.Create("fail-fast", new Dictionary<string, string>
        {
            [PodAnnotations.FailStrategy] = "fail-fast",
            [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock",
        });
        await Cluster.SubmitAsync(pod);

        var snapshot = await Cluster.WaitForAsync(pod.Uid(), s => s.Stage == PodStage.Failed, Timeout);
        Assert.Equal(PodStateMachine.ReasonProviderFailed, snapshot.Reason);
        Assert.Contains("fail-fast", snapshot.Message);
        Assert.Contains("OperationDenied.NoStock", snapshot.Message);
        Assert.Equal(PodPhase.Failed, snapshot.Phase);
        Assert.Equal(1, snapshot.Attempts);
    }

    [Fact]
    public async Task Fail_back_pod_keeps_retrying_and_stays_pending_with_its_reason()
    {
        var pod = TestPods.Create("fail-back", new Dictionary<string, string> { [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock" });
        await Cluster.SubmitAsync(pod);

        var snapshot = await Cluster.WaitForAsync(pod.Uid(), s => s.Attempts >= 3 && s.Stage == PodStage.BackingOff, Timeout);
        Assert.Equal(PodPhase.Pending, snapshot.Phase);
        Assert.Equal("NoStock", snapshot.Reason);
        Assert.Null(snapshot.InstanceId);
        Assert.Equal(0, Cluster.Cloud.InstancesCreatedForPod(pod.Metadata.Uid));
        Assert.Contains(snapshot.History, h => h.To == PodStage.BackingOff && h.ErrorCode == "OperationDenied.NoStock");
    }

    [Fact]
    public async Task No_stock_for_the_first_spec_falls_back_to_the_next_one()
    {
        var pod = TestPods.Create("specs", new Dictionary<string, string> { [PodAnnotations.UseSpecs] = "ecs.g6.xlarge,4-8Gi" });
        await Cluster.SubmitAsync(pod);

        var snapshot = await Cluster.WaitForAsync(pod.Uid(), s => s.Stage == PodStage.Running, Timeout);
        var instance = Assert.Single((await Cluster.Cloud.DescribeContainerGroupsAsync(new(Tags: new Dictionary<string, string>
        {
            [ContainerGroupTags.PodUid] = pod.Metadata.Uid,
        }))).Items);
        Assert.Equal("4-8Gi", instance.Spec);
        Assert.Equal(snapshot.InstanceId, instance.ContainerGroupId);
        Assert.Equal(2, snapshot.Attempts);
    }

    [Fact]
    public async Task Deleting_a_running_pod_removes_its_instance()
    {
        var pod = TestPods.Create("deleted");
        await Cluster.SubmitAsync(pod);
        var running = await Cluster.WaitForAsync(pod.Uid(), s => s.Stage == PodStage.Running, Timeout);

        await Cluster.VirtualNode.DeletePods([pod.Uid()]);

        // A pod that is gone keeps no state: its grain starts from New again.
        await Cluster.WaitForAsync(pod.Uid(), s => s.Stage == PodStage.New, Timeout);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => Cluster.Cloud.DeleteContainerGroupAsync(running.InstanceId!));
        Assert.Empty((await Cluster.Cloud.DescribeContainerGroupStatusAsync([running.InstanceId!])));
    }

    [Fact]
    public async Task Pods_run_to_completion_with_their_exit_code()
    {
        var succeeds = TestPods.Create("completes", new Dictionary<string, string> { [SimulatorAnnotations.RunSeconds] = "1" });
        var fails = TestPods.Create("crashes", new Dictionary<string, string>
        {
            [SimulatorAnnotations.RunSeconds] = "1",
            [SimulatorAnnotations.ExitCode] = "3",
        });
        await Cluster.SubmitAsync(succeeds, fails);

        var done = await Cluster.WaitForAsync(succeeds.Uid(), s => s.Stage == PodStage.Succeeded, Timeout);
        var failed = await Cluster.WaitForAsync(fails.Uid(), s => s.Stage == PodStage.Failed, Timeout);
        Assert.Equal(PodPhase.Succeeded, done.Phase);
        Assert.NotNull(done.RunningAt);
        Assert.Equal(PodPhase.Failed, failed.Phase);
    }

    public static TheoryData<string, string, string> BadPods() => new()
    {
        { "host-network", PodAdmission.ReasonUnsupported, "spec.hostNetwork" },
        { "host-path", PodAdmission.ReasonUnsupported, "spec.volumes[1].hostPath (volume 'host')" },
        { "privileged", PodAdmission.ReasonUnsupported, "spec.containers[0].securityContext.privileged (container 'app')" },
        { "privileged-init", PodAdmission.ReasonUnsupported, "spec.initContainers[0].securityContext.privileged (container 'init')" },
        { "daemonset", PodAdmission.ReasonUnsupported, "metadata.ownerReferences[0]: pods of DaemonSet 'agent'" },
        { "bad-specs", PodAdmission.ReasonInvalidAnnotation, "metadata.annotations[k8s.aliyun.com/eci-use-specs]: 'banana'" },
        { "bad-max-pending", PodAdmission.ReasonInvalidAnnotation, "metadata.annotations[k8s.aliyun.com/eci-max-pending-minute]: '5'" },
        { "bad-fail-strategy", PodAdmission.ReasonInvalidAnnotation, "metadata.annotations[k8s.aliyun.com/eci-fail-strategy]: 'sometimes'" },
    };

    [Theory]
    [MemberData(nameof(BadPods))]
    public async Task A_bad_pod_fails_with_a_reason_naming_the_field_burns_no_quota_and_does_not_hold_up_others(
        string kind, string reason, string message)
    {
        var bad = BadPod(kind);
        var good = Enumerable.Range(0, 20).Select(i => TestPods.Create($"{kind}-neighbour-{i}")).ToList();
        await Cluster.SubmitAsync([bad, .. good]);

        var snapshot = await Cluster.WaitForAsync(bad.Uid(), s => s.Stage == PodStage.Failed, Timeout);
        Assert.Equal(reason, snapshot.Reason);
        Assert.Contains(message, snapshot.Message);
        Assert.Equal(0, snapshot.Attempts);
        Assert.Equal(0, Cluster.Cloud.InstancesCreatedForPod(bad.Metadata.Uid));
        await Cluster.WaitForAsync(good.Select(p => p.Uid()), s => s.Stage == PodStage.Running, Timeout);
    }

    private static V1Pod BadPod(string kind) => kind switch
    {
        "host-network" => TestPods.Create(kind, configure: p => p.Spec.HostNetwork = true),
        "host-path" => TestPods.Create(kind, configure: p => p.Spec.Volumes =
        [
            new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() },
            new V1Volume { Name = "host", HostPath = new V1HostPathVolumeSource { Path = "/var/log" } },
        ]),
        "privileged" => TestPods.Create(kind, configure: p => p.Spec.Containers[0].SecurityContext = new V1SecurityContext { Privileged = true }),
        "privileged-init" => TestPods.Create(kind, configure: p => p.Spec.InitContainers =
            [new V1Container { Name = "init", Image = "busybox", SecurityContext = new V1SecurityContext { Privileged = true } }]),
        "daemonset" => TestPods.Create(kind, configure: p => p.Metadata.OwnerReferences =
            [new V1OwnerReference { ApiVersion = "apps/v1", Kind = "DaemonSet", Name = "agent", Uid = Guid.NewGuid().ToString() }]),
        "bad-specs" => TestPods.Create(kind, new Dictionary<string, string> { [PodAnnotations.UseSpecs] = "2-4Gi,banana" }),
        "bad-max-pending" => TestPods.Create(kind, new Dictionary<string, string> { [PodAnnotations.MaxPendingMinute] = "5" }),
        "bad-fail-strategy" => TestPods.Create(kind, new Dictionary<string, string> { [PodAnnotations.FailStrategy] = "sometimes" }),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
