namespace VNodeMesh.Grains.Cluster;

/// <summary>
/// Connects a virtual node to its cluster while the node's grain is active: the Node object and
/// its Lease, and the watch that feeds the node's pods to the grain. Disposing disconnects.
/// </summary>
public interface INodeConnector
{
    IAsyncDisposable Connect(string node, IVirtualNodeGrain grain);
}

/// <summary>The local profile has no cluster: pods are submitted to the node grain directly.</summary>
public sealed class NoNodeConnector : INodeConnector, IAsyncDisposable
{
    public IAsyncDisposable Connect(string node, IVirtualNodeGrain grain) => this;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
