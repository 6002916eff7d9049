using k8s;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// Makes clients of the API server. The writers share one; every pod watch gets its own, on its own
/// connection: sharing one with a burst of writes, a watch falls behind and the API server closes it.
/// </summary>
public sealed class KubernetesClients(KubernetesClientConfiguration configuration)
{
    public IKubernetes Create() => new k8s.Kubernetes(configuration, new ApiRequestMetrics());
}
