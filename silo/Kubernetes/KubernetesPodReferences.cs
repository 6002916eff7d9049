using System.Collections.Concurrent;
using System.Net;
using k8s;
using VNodeMesh.Silo.Providers.Eci;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// The ConfigMaps and Secrets pods refer to, read from the API server when an instance is created.
/// Each is kept a few seconds, so a burst of pods sharing one costs one read, not one per pod.
/// </summary>
public sealed class KubernetesPodReferences(IKubernetes client, TimeProvider time) : IPodReferenceSource
{
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<(string Kind, string Namespace, string Name), (Task<object?> Read, DateTimeOffset At)> _cache = new();

    public async Task<IReadOnlyDictionary<string, string>?> GetConfigMapAsync(string @namespace, string name, CancellationToken cancellationToken) =>
        (IReadOnlyDictionary<string, string>?)await Read("configmap", @namespace, name, async () =>
        {
            var map = await client.CoreV1.ReadNamespacedConfigMapAsync(name, @namespace, cancellationToken: CancellationToken.None);
            return (object)(map.Data is { } data ? new Dictionary<string, string>(data) : new Dictionary<string, string>());
        }).WaitAsync(cancellationToken);

    public async Task<IReadOnlyDictionary<string, byte[]>?> GetSecretAsync(string @namespace, string name, CancellationToken cancellationToken) =>
        (IReadOnlyDictionary<string, byte[]>?)await Read("secret", @namespace, name, async () =>
        {
            var secret = await client.CoreV1.ReadNamespacedSecretAsync(name, @namespace, cancellationToken: CancellationToken.None);
            return (object)(secret.Data is { } data ? new Dictionary<string, byte[]>(data) : new Dictionary<string, byte[]>());
        }).WaitAsync(cancellationToken);

    private Task<object?> Read(string kind, string @namespace, string name, Func<Task<object>> read)
    {
        var now = time.GetUtcNow();
        var key = (kind, @namespace, name);
        if (_cache.TryGetValue(key, out var cached) && now - cached.At < Freshness && !cached.Read.IsFaulted)
        {
            return cached.Read;
        }

        var fresh = ReadOrNull(read);
        _cache[key] = (fresh, now);
        return fresh;
    }

    /// <summary>A missing object is an answer (null); any other failure is not cached, and is transient for the pod.</summary>
    private static async Task<object?> ReadOrNull(Func<Task<object>> read)
    {
        try
        {
            return await read();
        }
        catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound))
        {
            return null;
        }
        catch (Exception ex) when (ApiErrors.IsTransient(ex) || ex is k8s.Autorest.HttpOperationException)
        {
            throw new TransientProviderException("KubernetesReadFailed", $"could not read a ConfigMap or Secret the pod refers to: {ex.Message}", inner: ex);
        }
    }
}
