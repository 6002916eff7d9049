using System.Diagnostics.Metrics;
using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VNodeMesh.Grains;
using VNodeMesh.LoadTest.Cluster;
using VNodeMesh.Silo.Kubernetes;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Kubernetes;

/// <summary>What VNodeMesh does when it loses the API server or restarts: nothing lost, nothing duplicated.</summary>
[Collection(KubernetesCollection.Name)]
public sealed class RecoveryTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly IKubernetes _api = KubeApi.Client();
    private readonly string _node = KubeApi.Unique("vn-recover");
    private string _ns = "";

    public async Task InitializeAsync() => _ns = await _api.CreateNamespaceAsync("recover");

    public async Task DisposeAsync()
    {
        await _api.DeleteNamespaceAsync(_ns);
        await _api.CoreV1.DeleteNodeAsync(_node);
    }

    /// <summary>
    /// The API server here runs without a watch cache and compacts every 10 s (see test.sh), so a
    /// watch that resumes after a long cut gets 410 Gone and must relist.
    /// </summary>
    [Fact]
    public async Task A_watch_expired_during_a_cut_relists_and_loses_no_pod()
    {
        await using var proxy = await ApiServerProxy.StartAsync(KubeApi.KubeconfigPath);
        await using var cluster = await VNodeMeshTestCluster.StartAsync(settings: KubeApi.SiloSettings(proxy.Kubeconfig, _node), silos: 1);
        var before = await _api.CreatePodAsync(KubeApi.Pod(_ns, "before", _node));
        await _api.WaitForPodAsync(_ns, "before", KubeApi.IsRunning, Timeout);

        proxy.Cut();
        string[] during = ["during-0", "during-1", "during-2"];
        foreach (var name in during)
        {
            await _api.CreatePodAsync(KubeApi.Pod(_ns, name, _node));
        }

        await _api.CoreV1.DeleteNamespacedPodAsync("before", _ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
        await WaitUntilCompactedAsync();
        using var lists = new ApiRequestCount("list", "pods");
        proxy.Restore();

        foreach (var name in during)
        {
            await _api.WaitForPodAsync(_ns, name, KubeApi.IsRunning, Timeout);
        }

        await KubeApi.WaitUntilAsync(async () => (await cluster.Cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(
            Tags: new Dictionary<string, string> { [ContainerGroupTags.PodUid] = before.Metadata.Uid }))).Items.Count == 0,
            Timeout, () => "the instance of the pod deleted during the cut was not released");
        Assert.True(lists.Value >= 1, "the watch resumed without relisting, so the test did not provoke a 410");
        Assert.Equal(0, cluster.Cloud.Statistics.DuplicateInstances);
    }

    /// <summary>
    /// A status write queued on a silo that dies is lost with it, and a Running pod's grain may have
    /// nothing left to do. The node's check of the API phases finds the pod shown behind its stage.
    /// </summary>
    [Fact]
    public async Task A_pod_the_API_shows_behind_its_stage_gets_its_status_written_again()
    {
        var settings = KubeApi.SiloSettings(KubeApi.KubeconfigPath, _node);
        settings["VNodeMesh:VirtualNodes:ResyncInterval"] = "00:00:02";
        await using var cluster = await VNodeMeshTestCluster.StartAsync(settings: settings, silos: 1);
        await _api.CreatePodAsync(KubeApi.Pod(_ns, "behind", _node));
        await _api.CreatePodAsync(KubeApi.Pod(_ns, "in-step", _node));
        var running = await _api.WaitForPodAsync(_ns, "behind", KubeApi.IsRunning, Timeout);
        await _api.WaitForPodAsync(_ns, "in-step", KubeApi.IsRunning, Timeout);

        // The API server is left showing what it showed before the pod's last status write.
        running.Status.Phase = "Pending";
        running.Status.Conditions = [.. running.Status.Conditions.Where(c => c.Type == "PodScheduled")];
        running.Status.ContainerStatuses = null;
        await _api.CoreV1.ReplaceNamespacedPodStatusAsync(running, running.Name(), _ns);

        var healed = await _api.WaitForPodAsync(_ns, "behind", KubeApi.IsRunning, Timeout);
        Assert.Contains(healed.Status.Conditions, c => c is { Type: "Ready", Status: "True" });
        Assert.Equal(0, cluster.Cloud.Statistics.DuplicateInstances);
    }

    [Fact]
    public async Task A_restarted_silo_adopts_existing_instances_and_releases_only_orphans()
    {
        var cloudOptions = SimulatorOptions.ZeroLatency();
        cloudOptions.QuotaUnlimited = true;
        var cloud = new SimulatedCloud(cloudOptions);
        var settings = KubeApi.SiloSettings(KubeApi.KubeconfigPath, _node);
        string[] names = ["keep-0", "keep-1", "keep-2", "orphan"];
        var pods = new Dictionary<string, V1Pod>();
        await using (var first = await VNodeMeshTestCluster.StartAsync(settings: settings, silos: 1, cloud: cloud))
        {
            foreach (var name in names)
            {
                pods[name] = await _api.CreatePodAsync(KubeApi.Pod(_ns, name, _node));
            }

            foreach (var name in names)
            {
                await _api.WaitForPodAsync(_ns, name, KubeApi.IsRunning, Timeout);
            }
        }

        // While no silo runs: one pod is force-deleted (its instance is now an orphan), one is created.
        await _api.CoreV1.DeleteNamespacedPodAsync("orphan", _ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
        await _api.CreatePodAsync(KubeApi.Pod(_ns, "while-down", _node));
        Assert.Equal(4, cloud.Statistics.InstancesAlive);

        // A new silo with none of the first one's state: only the cloud and the API server remember.
        await using var second = await VNodeMeshTestCluster.StartAsync(settings: settings, silos: 1, cloud: cloud);
        await _api.WaitForPodAsync(_ns, "while-down", KubeApi.IsRunning, Timeout);
        await KubeApi.WaitUntilAsync(() => Task.FromResult(cloud.InstancesCreatedForPod(pods["orphan"].Metadata.Uid) == 1 && cloud.Statistics.InstancesAlive == 4),
            Timeout, () => $"the orphan instance was not released ({cloud.Statistics.InstancesAlive} alive)");
        foreach (var name in names[..3])
        {
            var pod = await _api.WaitForPodAsync(_ns, name, KubeApi.IsRunning, Timeout);
            Assert.Equal(1, cloud.InstancesCreatedForPod(pod.Metadata.Uid));
            var snapshot = await second.WaitForAsync(pod.Uid(), s => s.Stage == PodStage.Running, Timeout);
            Assert.Equal(pod.Annotations()[PodStatusPatch.InstanceId], snapshot.InstanceId);
        }

        Assert.Equal(0, cloud.Statistics.DuplicateInstances);
    }

    /// <summary>Waits until etcd has compacted past the current revision, so any watch from before gets 410.</summary>
    private async Task WaitUntilCompactedAsync()
    {
        var revision = (await _api.CoreV1.ListNamespacedPodAsync(_ns)).Metadata.ResourceVersion;
        await KubeApi.WaitUntilAsync(async () =>
        {
            try
            {
                await _api.CoreV1.ListNamespacedConfigMapAsync(_ns, resourceVersion: revision, resourceVersionMatch: "Exact", limit: 1);
                await _api.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "tick-" } }, _ns);
                return false;
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Gone)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(90), () => $"revision {revision} was not compacted: is the API server running with COMPACTION_INTERVAL=10s?");
    }

    /// <summary>Counts VNodeMesh's API requests of one verb and resource from now on.</summary>
    private sealed class ApiRequestCount : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _value;

        public ApiRequestCount(string verb, string resource)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == VNodeMeshTelemetry.Name && instrument.Name == ApiRequestMetrics.InstrumentName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                string? v = null, r = null;
                foreach (var tag in tags)
                {
                    (v, r) = tag.Key switch { "verb" => (tag.Value as string, r), "resource" => (v, tag.Value as string), _ => (v, r) };
                }

                if (v == verb && r == resource)
                {
                    Interlocked.Add(ref _value, value);
                }
            });
            _listener.Start();
        }

        public long Value => Interlocked.Read(ref _value);

        public void Dispose() => _listener.Dispose();
    }
}
