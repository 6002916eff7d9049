using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace VNodeMesh.Tests.Infrastructure;

/// <summary>
/// The real API server the test command starts (kube-local, through <c>$KUBECONFIG</c>) and helpers
/// to create pods there and wait for what VNodeMesh writes back.
/// </summary>
public static class KubeApi
{
    public static string KubeconfigPath =>
        Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } path && File.Exists(path)
            ? path
            : throw new InvalidOperationException(
                "KUBECONFIG does not name a kubeconfig file: these tests need the API server that ./test.sh starts (../shared/tools/kube-local/up.sh)");

    public static IKubernetes Client(string? kubeconfig = null) =>
        new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig ?? KubeconfigPath));

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    /// <summary>The settings that connect a test silo to the API server and serve the given virtual nodes.</summary>
    public static Dictionary<string, string?> SiloSettings(string kubeconfig, params string[] nodes)
    {
        var settings = new Dictionary<string, string?>
        {
            ["VNodeMesh:Kubernetes:Kubeconfig"] = kubeconfig,
            ["VNodeMesh:Kubernetes:LeaseRenewInterval"] = "00:00:01",
            ["VNodeMesh:Kubernetes:EventAggregationWindow"] = "00:00:05",
            ["VNodeMesh:Kubernetes:WatchTimeoutSeconds"] = "30",
        };
        for (var i = 0; i < nodes.Length; i++)
        {
            settings[$"VNodeMesh:Nodes:Items:{i}:Name"] = nodes[i];
        }

        return settings;
    }

    public static async Task<string> CreateNamespaceAsync(this IKubernetes client, string prefix)
    {
        var name = Unique(prefix);
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } });
        return name;
    }

    public static V1Pod Pod(string ns, string name, string node, IDictionary<string, string>? annotations = null, Action<V1Pod>? configure = null)
    {
        var pod = TestPods.Create(name, annotations, configure);
        pod.Metadata.NamespaceProperty = ns;
        pod.Metadata.Uid = null;
        pod.Spec.NodeName = node;
        return pod;
    }

    public static Task<V1Pod> CreatePodAsync(this IKubernetes client, V1Pod pod) =>
        client.CoreV1.CreateNamespacedPodAsync(pod, pod.Namespace());

    public static async Task<V1Pod?> TryReadPodAsync(this IKubernetes client, string ns, string name)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedPodAsync(name, ns);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Polls the pod until <paramref name="done"/>; fails with the pod's last status.</summary>
    public static async Task<V1Pod> WaitForPodAsync(this IKubernetes client, string ns, string name, Func<V1Pod, bool> done, TimeSpan timeout)
    {
        V1Pod? last = null;
        await WaitUntilAsync(async () => (last = await client.TryReadPodAsync(ns, name)) is { } pod && done(pod), timeout,
            () => $"pod {ns}/{name}: phase {last?.Status?.Phase}, reason {last?.Status?.Reason}, conditions "
                + string.Join(", ", last?.Status?.Conditions?.Select(c => $"{c.Type}={c.Status}/{c.Reason}") ?? []));
        return last!;
    }

    public static Task WaitForPodGoneAsync(this IKubernetes client, string ns, string name, TimeSpan timeout) =>
        WaitUntilAsync(async () => await client.TryReadPodAsync(ns, name) is null, timeout, () => $"pod {ns}/{name} still exists");

    public static async Task<IList<Corev1Event>> EventsAsync(this IKubernetes client, string ns, string podName) =>
        (await client.CoreV1.ListNamespacedEventAsync(ns, fieldSelector: $"involvedObject.name={podName}")).Items;

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"not within {timeout.TotalSeconds:0} s: {describe()}");
            }

            await Task.Delay(100);
        }
    }

    public static bool IsRunning(V1Pod pod) => pod.Status?.Phase == "Running";

    public static V1PodCondition? Condition(this V1Pod pod, string type) => pod.Status?.Conditions?.FirstOrDefault(c => c.Type == type);

    /// <summary>Removes the test's pods at once (there is no kubelet), then the namespace.</summary>
    public static async Task DeleteNamespaceAsync(this IKubernetes client, string ns)
    {
        foreach (var pod in (await client.CoreV1.ListNamespacedPodAsync(ns)).Items)
        {
            try
            {
                await client.CoreV1.DeleteNamespacedPodAsync(pod.Name(), ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
            {
            }
        }

        await client.CoreV1.DeleteNamespaceAsync(ns);
    }
}
