using k8s;
using k8s.Models;
using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Silo.Kubernetes;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Kubernetes;

/// <summary>One silo serving two virtual nodes on the real API server; each test has its own namespace.</summary>
public sealed class BridgeFixture : IAsyncLifetime
{
    public string NodeA { get; } = KubeApi.Unique("vn-a");
    public string NodeB { get; } = KubeApi.Unique("vn-b");
    public IKubernetes Api { get; } = KubeApi.Client();
    public VNodeMeshTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var settings = KubeApi.SiloSettings(KubeApi.KubeconfigPath, NodeA, NodeB);
        settings["VNodeMesh:Nodes:Items:0:Zone"] = "cn-hangzhou-a";
        settings["VNodeMesh:Nodes:Items:0:Region"] = "cn-hangzhou";
        settings["VNodeMesh:Nodes:Items:0:Labels:team"] = "burst";
        settings["VNodeMesh:Nodes:Items:1:Zone"] = "cn-hangzhou-b";
        Cluster = await VNodeMeshTestCluster.StartAsync(settings: settings, silos: 1);
        await KubeApi.WaitUntilAsync(async () => await NodeReadyAsync(NodeA) && await NodeReadyAsync(NodeB), TimeSpan.FromSeconds(30),
            () => "the virtual nodes did not register as Ready");
    }

    private async Task<bool> NodeReadyAsync(string name)
    {
        try
        {
            var node = await Api.CoreV1.ReadNodeAsync(name);
            return node.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        }
        catch (k8s.Autorest.HttpOperationException)
        {
            return false;
        }
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        foreach (var node in new[] { NodeA, NodeB })
        {
            await Api.CoreV1.DeleteNodeAsync(node);
        }
    }
}

/// <summary>The Kubernetes bridge against a real kube-apiserver: node, pods, status, Events, deletion.</summary>
[Collection(KubernetesCollection.Name)]
public sealed class KubernetesBridgeTests(BridgeFixture fixture) : IClassFixture<BridgeFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private IKubernetes Api => fixture.Api;
    private SimulatedCloud Cloud => fixture.Cluster.Cloud;
    private string _ns = "";

    public async Task InitializeAsync() => _ns = await Api.CreateNamespaceAsync("bridge");

    public Task DisposeAsync() => Api.DeleteNamespaceAsync(_ns);

    [Fact]
    public async Task Virtual_node_is_registered_with_its_labels_taint_capacity_and_a_renewed_lease()
    {
        var node = await Api.CoreV1.ReadNodeAsync(fixture.NodeA);

        Assert.Equal("virtual-kubelet", node.Labels()["type"]);
        Assert.Equal("agent", node.Labels()["kubernetes.io/role"]);
        Assert.Equal(fixture.NodeA, node.Labels()["kubernetes.io/hostname"]);
        Assert.Equal("linux", node.Labels()["kubernetes.io/os"]);
        Assert.Equal("amd64", node.Labels()["kubernetes.io/arch"]);
        Assert.Equal("cn-hangzhou-a", node.Labels()["topology.kubernetes.io/zone"]);
        Assert.Equal("burst", node.Labels()["team"]);
        Assert.Contains(node.Spec.Taints, t => t is { Key: NodeRegistration.ProviderTaintKey, Value: "simulator", Effect: "NoSchedule" });
        Assert.Equal(50_000, node.Status.Capacity["pods"].ToInt64());
        Assert.Equal(50_000, node.Status.Allocatable["pods"].ToInt64());
        Assert.NotNull(node.Status.Allocatable["cpu"]);
        Assert.Equal(10250, node.Status.DaemonEndpoints.KubeletEndpoint.Port);
        Assert.Equal(NodeRegistration.KubeletVersion, node.Status.NodeInfo.KubeletVersion);
        Assert.Contains(node.Status.Addresses, a => a.Type == "InternalIP");
        Assert.Equal("True", node.Status.Conditions.Single(c => c.Type == "Ready").Status);
        foreach (var pressure in new[] { "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable" })
        {
            Assert.Equal("False", node.Status.Conditions.Single(c => c.Type == pressure).Status);
        }

        var lease = await Api.CoordinationV1.ReadNamespacedLeaseAsync(fixture.NodeA, NodeRegistration.LeaseNamespace);
        Assert.Equal(40, lease.Spec.LeaseDurationSeconds);
        Assert.Equal(node.Uid(), lease.OwnerReferences().Single(o => o.Kind == "Node").Uid);
        var renewed = lease.Spec.RenewTime;
        await KubeApi.WaitUntilAsync(async () =>
            (await Api.CoordinationV1.ReadNamespacedLeaseAsync(fixture.NodeA, NodeRegistration.LeaseNamespace)).Spec.RenewTime > renewed,
            TimeSpan.FromSeconds(10), () => "the lease was not renewed");
        Assert.Equal("True", (await Api.CoreV1.ReadNodeAsync(fixture.NodeA)).Status.Conditions.Single(c => c.Type == "Ready").Status);
    }

    [Fact]
    public async Task Pod_runs_with_instance_annotations_conditions_and_a_created_event()
    {
        var created = await Api.CreatePodAsync(KubeApi.Pod(_ns, "web", fixture.NodeA));

        var pod = await Api.WaitForPodAsync(_ns, "web", KubeApi.IsRunning, Timeout);

        var annotations = pod.Annotations();
        Assert.StartsWith("eci-", annotations[PodStatusPatch.InstanceId]);
        Assert.Equal("done", annotations[PodStatusPatch.ProviderCreate]);
        Assert.Contains(PodStatusPatch.InstanceSpec, annotations.Keys);
        Assert.Contains(PodStatusPatch.InstanceZone, annotations.Keys);
        Assert.Contains(PodStatusPatch.RequestId, annotations.Keys);
        foreach (var type in new[] { "PodScheduled", "Initialized", "ContainersReady", "Ready", PodStatusPatch.InstanceCreated })
        {
            Assert.Equal("True", pod.Condition(type)?.Status);
        }

        var container = Assert.Single(pod.Status.ContainerStatuses);
        Assert.Equal("app", container.Name);
        Assert.True(container.Ready);
        Assert.NotNull(container.State.Running);
        Assert.False(string.IsNullOrEmpty(pod.Status.PodIP));
        Assert.NotNull(pod.Status.StartTime);
        Assert.Equal(1, Cloud.InstancesCreatedForPod(created.Uid().ToString()));
        await KubeApi.WaitUntilAsync(async () => (await Api.EventsAsync(_ns, "web")).Any(e => e.Reason == "ProviderCreateSucceeded" && e.Type == "Normal"),
            Timeout, () => "no ProviderCreateSucceeded event");
    }

    [Fact]
    public async Task Fail_fast_pod_fails_with_its_reason_and_a_warning_event()
    {
        await Api.CreatePodAsync(KubeApi.Pod(_ns, "fast", fixture.NodeA, new Dictionary<string, string>
        {
            [PodAnnotations.FailStrategy] = "fail-fast",
            [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock",
        }));

        var pod = await Api.WaitForPodAsync(_ns, "fast", p => p.Status?.Phase == "Failed", Timeout);

        Assert.Equal(PodStateMachine.ReasonProviderFailed, pod.Status.Reason);
        Assert.Contains("fail-fast", pod.Status.Message);
        Assert.Equal("False", pod.Condition(PodStatusPatch.InstanceCreated)?.Status);
        await KubeApi.WaitUntilAsync(async () => (await Api.EventsAsync(_ns, "fast")).Any(e => e.Type == "Warning" && e.Reason == PodStateMachine.ReasonProviderFailed),
            Timeout, () => "no ProviderFailed warning event");
    }

    [Fact]
    public async Task No_stock_retries_show_the_condition_and_one_aggregated_event()
    {
        await Api.CreatePodAsync(KubeApi.Pod(_ns, "nostock", fixture.NodeA, new Dictionary<string, string>
        {
            [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock",
        }));

        var pod = await Api.WaitForPodAsync(_ns, "nostock", p => p.Condition(PodStatusPatch.InstanceCreated)?.Reason == "NoStock", Timeout);

        Assert.Equal("Pending", pod.Status.Phase);
        Assert.Equal("False", pod.Condition(PodStatusPatch.InstanceCreated)!.Status);
        Corev1Event? noStock = null;
        await KubeApi.WaitUntilAsync(async () => (noStock = (await Api.EventsAsync(_ns, "nostock")).SingleOrDefault(e => e.Reason == "ProviderNoStock")) is { Count: > 1 },
            Timeout, () => $"no aggregated ProviderNoStock event (count {noStock?.Count})");
        Assert.Equal("Warning", noStock!.Type);
        Assert.Equal(0, Cloud.InstancesCreatedForPod(pod.Uid().ToString()));
    }

    [Fact]
    public async Task Graceful_deletion_deletes_the_instance_then_the_pod()
    {
        var created = await Api.CreatePodAsync(KubeApi.Pod(_ns, "graceful", fixture.NodeA));
        await Api.WaitForPodAsync(_ns, "graceful", KubeApi.IsRunning, Timeout);

        await Api.CoreV1.DeleteNamespacedPodAsync("graceful", _ns); // the pod's own grace period: 30 s by default

        await Api.WaitForPodGoneAsync(_ns, "graceful", Timeout);
        Assert.Empty(await InstancesOfAsync(created.Uid()));
        await KubeApi.WaitUntilAsync(async () => (await Api.EventsAsync(_ns, "graceful")).Any(e => e.Reason == "ProviderDeleteSucceeded"),
            Timeout, () => "no ProviderDeleteSucceeded event");
    }

    [Fact]
    public async Task Deletion_waits_for_the_containers_to_stop_within_the_grace_period()
    {
        // The containers would take 60 s to stop; the pod's grace period allows 2.
        await Api.CreatePodAsync(KubeApi.Pod(_ns, "slow-stop", fixture.NodeA, new Dictionary<string, string>
        {
            [SimulatorAnnotations.StopSeconds] = "60",
        }, p => p.Spec.TerminationGracePeriodSeconds = 2));
        await Api.WaitForPodAsync(_ns, "slow-stop", KubeApi.IsRunning, Timeout);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Api.CoreV1.DeleteNamespacedPodAsync("slow-stop", _ns);
        await Api.WaitForPodGoneAsync(_ns, "slow-stop", Timeout);

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Forced_deletion_still_releases_the_instance()
    {
        var created = await Api.CreatePodAsync(KubeApi.Pod(_ns, "forced", fixture.NodeA));
        await Api.WaitForPodAsync(_ns, "forced", KubeApi.IsRunning, Timeout);

        await Api.CoreV1.DeleteNamespacedPodAsync("forced", _ns, new V1DeleteOptions { GracePeriodSeconds = 0 });

        await KubeApi.WaitUntilAsync(async () => (await InstancesOfAsync(created.Uid())).Count == 0, Timeout, () => "the instance was not released");
    }

    [Theory]
    [InlineData("host-network", "spec.hostNetwork")]
    [InlineData("privileged", "privileged")]
    [InlineData("host-path", "hostPath")]
    public async Task Unsupported_specs_get_their_reason_and_a_warning_event_and_no_instance(string kind, string field)
    {
        var pod = KubeApi.Pod(_ns, kind, fixture.NodeA, configure: p =>
        {
            switch (kind)
            {
                case "host-network":
                    p.Spec.HostNetwork = true;
                    break;
                case "privileged":
                    p.Spec.Containers[0].SecurityContext = new V1SecurityContext { Privileged = true };
                    break;
                case "host-path":
                    p.Spec.Volumes = [new V1Volume { Name = "host", HostPath = new V1HostPathVolumeSource { Path = "/var/run" } }];
                    break;
            }
        });
        var created = await Api.CreatePodAsync(pod);

        var failed = await Api.WaitForPodAsync(_ns, kind, p => p.Status?.Phase == "Failed", Timeout);

        Assert.Equal("UnsupportedPodSpec", failed.Status.Reason);
        Assert.Contains(field, failed.Status.Message);
        Assert.Equal("False", failed.Condition(PodStatusPatch.InstanceCreated)?.Status);
        Assert.DoesNotContain(PodStatusPatch.InstanceId, failed.Annotations()?.Keys ?? []);
        await KubeApi.WaitUntilAsync(async () => (await Api.EventsAsync(_ns, kind)).Any(e => e.Type == "Warning" && e.Reason == "UnsupportedPodSpec" && e.Message.Contains(field)),
            Timeout, () => "no UnsupportedPodSpec warning event");
        Assert.Equal(0, Cloud.InstancesCreatedForPod(created.Uid().ToString()));
    }

    [Fact]
    public async Task Two_virtual_nodes_run_their_own_pods()
    {
        var a = await Api.CreatePodAsync(KubeApi.Pod(_ns, "on-a", fixture.NodeA));
        var b = await Api.CreatePodAsync(KubeApi.Pod(_ns, "on-b", fixture.NodeB));

        await Api.WaitForPodAsync(_ns, "on-a", KubeApi.IsRunning, Timeout);
        await Api.WaitForPodAsync(_ns, "on-b", KubeApi.IsRunning, Timeout);

        Assert.Equal(fixture.NodeA, Assert.Single(await InstancesOfAsync(a.Uid())).Tags[ContainerGroupTags.Node]);
        Assert.Equal(fixture.NodeB, Assert.Single(await InstancesOfAsync(b.Uid())).Tags[ContainerGroupTags.Node]);
        Assert.Equal("cn-hangzhou-b", (await Api.CoreV1.ReadNodeAsync(fixture.NodeB)).Labels()["topology.kubernetes.io/zone"]);
    }

    private async Task<IReadOnlyList<ContainerGroup>> InstancesOfAsync(Guid podUid) =>
        (await Cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(
            Tags: new Dictionary<string, string> { [ContainerGroupTags.PodUid] = podUid.ToString() }))).Items;
}

[CollectionDefinition(Name)]
public sealed class KubernetesCollection
{
    public const string Name = "Kubernetes API server";
}
