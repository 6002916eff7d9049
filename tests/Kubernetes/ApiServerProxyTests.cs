using System.Net;
using k8s;
using k8s.Models;
using VNodeMesh.LoadTest.Cluster;
using VNodeMesh.Silo.Kubernetes;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Kubernetes;

/// <summary>The fault proxy the tests and <c>burst --api-faults</c> put between VNodeMesh and the real API server.</summary>
[Collection(KubernetesCollection.Name)]
public sealed class ApiServerProxyTests : IAsyncLifetime
{
    private readonly IKubernetes _api = KubeApi.Client();
    private string _ns = "";

    public async Task InitializeAsync() => _ns = await _api.CreateNamespaceAsync("proxy");

    public Task DisposeAsync() => _api.DeleteNamespaceAsync(_ns);

    [Fact]
    public async Task It_passes_requests_on_counts_them_and_breaks_watches()
    {
        await using var proxy = await ApiServerProxy.StartAsync(KubeApi.KubeconfigPath);
        using var client = KubeApi.Client(proxy.Kubeconfig);
        var list = await client.CoreV1.ListNamespacedConfigMapAsync(_ns);

        var ended = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in client.CoreV1.WatchListNamespacedConfigMapAsync(_ns, resourceVersion: list.Metadata.ResourceVersion,
                    onError: e => ended.TrySetResult(e)))
                {
                }

                ended.TrySetResult(null);
            }
            catch (Exception ex)
            {
                ended.TrySetResult(ex);
            }
        });

        await KubeApi.WaitUntilAsync(() => Task.FromResult(proxy.BreakWatches() == 1), TimeSpan.FromSeconds(10), () => "the watch never went through the proxy");
        await ended.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // A request is counted once the proxy has sent its answer's last byte, which the client may read first.
        await KubeApi.WaitUntilAsync(() => Task.FromResult(proxy.Statistics.Requests.Keys.Any(k => k is ("watch", "configmaps", _))
            && proxy.Statistics.Requests.ContainsKey(("list", "configmaps", "200"))), TimeSpan.FromSeconds(5), () => "the list and the watch were never both counted");
        var requests = proxy.Statistics.Requests;
        var counted = string.Join(", ", requests.Select(r => $"{r.Key}: {r.Value}"));
        Assert.True(requests.GetValueOrDefault(("list", "configmaps", "200")) == 1, counted);
        Assert.True(requests.Keys.Any(k => k is ("watch", "configmaps", _)), counted);
        Assert.True(proxy.Statistics.WatchesBroken >= 1);
    }

    /// <summary>
    /// A watch held past two compaction intervals of the tests' API server (COMPACTION_INTERVAL=10s, no watch
    /// cache) resumes from a resourceVersion that is gone: the server itself answers 410.
    /// </summary>
    [Fact]
    public async Task A_held_watch_resumes_into_a_real_410_Gone()
    {
        await using var proxy = await ApiServerProxy.StartAsync(KubeApi.KubeconfigPath);
        using var client = KubeApi.Client(proxy.Kubeconfig);
        var list = await client.CoreV1.ListNamespacedConfigMapAsync(_ns);
        await _api.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "after-the-list" } }, _ns);

        proxy.HoldWatches(TimeSpan.FromSeconds(25));
        Exception? error = null;
        await foreach (var _ in client.CoreV1.WatchListNamespacedConfigMapAsync(_ns, resourceVersion: list.Metadata.ResourceVersion, onError: e => error ??= e))
        {
        }

        Assert.NotNull(error);
        Assert.True(error.Is(HttpStatusCode.Gone), $"the watch ended with {error}, not 410 Gone");
        Assert.Equal(1, proxy.Statistics.WatchesHeld);
        Assert.Equal(1, proxy.Statistics.GoneAnswers);
    }
}
