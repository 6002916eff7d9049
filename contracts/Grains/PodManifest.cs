using System.Text;
using k8s;
using k8s.Models;

namespace VNodeMesh.Contracts.Grains;

/// <summary>
/// A Kubernetes pod as it travels to and is kept by its grain: the API's own JSON, compact and
/// exactly what the API server sent, turned back into a <see cref="V1Pod"/> when the provider needs it.
/// </summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodManifest")]
public sealed record PodManifest(
    [property: Id(0)] Guid Uid,
    [property: Id(1)] string Namespace,
    [property: Id(2)] string Name,
    [property: Id(3)] byte[] Json)
{
    public V1Pod ToPod() => KubernetesJson.Deserialize<V1Pod>(Encoding.UTF8.GetString(Json));

    public static PodManifest From(V1Pod pod)
    {
        var uid = pod.Metadata?.Uid;
        if (!Guid.TryParse(uid, out var parsed))
        {
            throw new ArgumentException($"metadata.uid '{uid}' of pod {pod.Namespace()}/{pod.Name()} is not a UID", nameof(pod));
        }

        return new(parsed, pod.Namespace() ?? "default", pod.Name(), Encoding.UTF8.GetBytes(KubernetesJson.Serialize(pod)));
    }

    public override string ToString() => $"{Namespace}/{Name} ({Uid})";
}
