using k8s;
using VNodeMesh.Grains;
using VNodeMesh.Grains.Cluster;
using VNodeMesh.Silo.Hosting;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>Connects each activated virtual-node grain to Kubernetes with a <see cref="NodeConnection"/>.</summary>
public sealed class KubernetesNodeConnector(
    IKubernetes kubernetes,
    KubernetesClients clients,
    IInstanceProvider provider,
    IGrainFactory grains,
    IOptions<KubernetesOptions> options,
    IOptions<VirtualNodeOptions> nodeOptions,
    IOptions<NodesOptions> nodes,
    IOptions<PodLifecycleOptions> podOptions,
    TimeProvider time,
    ILogger<NodeConnection> logger) : INodeConnector
{
    public IAsyncDisposable Connect(string node, IVirtualNodeGrain grain) => new NodeConnection(
        nodes.Value.Find(node) ?? new VirtualNodeDefinition { Name = node }, grain, kubernetes, clients.Create(), provider, grains,
        options.Value, nodeOptions.Value, podOptions.Value.Cluster, time, logger);
}
