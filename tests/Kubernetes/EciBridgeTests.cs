using k8s;
using k8s.Models;
using VNodeMesh.Tests.Eci;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Kubernetes;

/// <summary>The ECI provider behind the Kubernetes bridge: what a pod refers to is read from the API server and sent with the create.</summary>
[Collection(KubernetesCollection.Name)]
public sealed class EciBridgeTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly IKubernetes _api = KubeApi.Client();
    private readonly string _node = KubeApi.Unique("vn-eci");
    private string _ns = "";

    public async Task InitializeAsync() => _ns = await _api.CreateNamespaceAsync("eci");

    public async Task DisposeAsync()
    {
        await _api.DeleteNamespaceAsync(_ns);
        await _api.CoreV1.DeleteNodeAsync(_node);
    }

    [Fact]
    public async Task A_pod_runs_on_ECI_with_its_ConfigMap_Secret_and_downward_API_values_resolved()
    {
        await using var emulator = await EciProviderTests.StartEmulatorAsync();
        var settings = KubeApi.SiloSettings(KubeApi.KubeconfigPath, _node);
        foreach (var (key, value) in EciEndToEndTests.Settings(emulator))
        {
            settings[key] = value;
        }

        await using var cluster = await VNodeMeshTestCluster.StartAsync(settings: settings, cloud: emulator.Cloud, providerFromSettings: true, silos: 1);
        await _api.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new() { Name = "app-config" }, Data = new Dictionary<string, string> { ["mode"] = "fast" } }, _ns);
        await _api.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new() { Name = "app-secret" }, StringData = new Dictionary<string, string> { ["token"] = "s3cret" } }, _ns);
        await _api.CreatePodAsync(KubeApi.Pod(_ns, "configured", _node, configure: p => p.Spec.Containers[0].Env =
        [
            new() { Name = "MODE", ValueFrom = new() { ConfigMapKeyRef = new() { Name = "app-config", Key = "mode" } } },
            new() { Name = "TOKEN", ValueFrom = new() { SecretKeyRef = new() { Name = "app-secret", Key = "token" } } },
            new() { Name = "POD_NAMESPACE", ValueFrom = new() { FieldRef = new() { FieldPath = "metadata.namespace" } } },
        ]));

        var pod = await _api.WaitForPodAsync(_ns, "configured", KubeApi.IsRunning, Timeout);
        var node = await _api.CoreV1.ReadNodeAsync(_node);

        var sent = emulator.ParametersOf($"{_ns}-configured")!.ToDictionary(p => p.Key, p => p.Value);
        var env = Enumerable.Range(1, 3).ToDictionary(n => sent[$"Container.1.EnvironmentVar.{n}.Key"], n => sent[$"Container.1.EnvironmentVar.{n}.Value"]);
        Assert.Equal("fast", env["MODE"]);
        Assert.Equal("s3cret", env["TOKEN"]);
        Assert.Equal(_ns, env["POD_NAMESPACE"]);
        var tags = Enumerable.Range(1, 20).Where(n => sent.ContainsKey($"Tag.{n}.Key")).ToDictionary(n => sent[$"Tag.{n}.Key"], n => sent[$"Tag.{n}.Value"]);
        Assert.Equal(pod.Metadata.Uid, tags["vnodemesh.io/pod-uid"]);
        Assert.StartsWith("eci-", pod.Metadata.Annotations["k8s.aliyun.com/eci-instance-id"]);
        Assert.Contains(node.Spec.Taints, t => t.Key == "virtual-kubelet.io/provider" && t.Value == "eci");
    }
}
