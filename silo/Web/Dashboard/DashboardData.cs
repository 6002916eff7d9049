using System.Net;
using k8s;
using Orleans.Storage;
using VNodeMesh.Grains;
using VNodeMesh.Silo.Hosting;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>A configured virtual node and what its grain reports, or why it could not be asked.</summary>
public sealed record NodeStatus(string Name, VirtualNodeSummary? Summary, string? Error);

/// <summary>What the dashboard reads from the cluster: the virtual nodes' accounting, and pods' traces.</summary>
public sealed class DashboardData(IGrainFactory grains, IOptions<NodesOptions> nodes, IServiceProvider services)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    public Task<NodeStatus[]> NodesAsync() =>
        Task.WhenAll(nodes.Value.Items.Select(async node =>
        {
            try
            {
                return new NodeStatus(node.Name, await grains.GetGrain<IVirtualNodeGrain>(node.Name).GetSummary().WaitAsync(CallTimeout), null);
            }
            catch (Exception ex) when (ex is TimeoutException or OrleansException or SiloUnavailableException)
            {
                return new NodeStatus(node.Name, null, $"the virtual node could not be reached ({ex.GetType().Name})");
            }
        }));

    /// <summary>
    /// The pod's state as its grain last stored it, or null for a pod VNodeMesh does not know. Read from
    /// grain storage rather than through the grain: an idle pod's grain is deactivated on purpose, and
    /// looking at the pod should not wake it (an activation publishes the pod's status again).
    /// </summary>
    public async Task<PodSnapshot?> ReadPodAsync(Guid uid)
    {
        var storage = services.GetRequiredKeyedService<IGrainStorage>(VNodeMeshStorage.Name);
        var state = new GrainState<PodState>();
        await storage.ReadStateAsync(PodGrain.StateName, grains.GetGrain<IPodGrain>(uid).GetGrainId(), state).WaitAsync(CallTimeout);
        return state is { RecordExists: true, State: { } stored } && stored.Lifecycle.Stage != PodStage.New ? stored.ToSnapshot(uid) : null;
    }

    /// <summary>
    /// The UID of a pod by name: the virtual nodes know the pods bound to them; with the Kubernetes
    /// bridge on, the API server answers for pods a node has not seen since it was activated again.
    /// </summary>
    public async Task<Guid?> FindPodAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        var found = await Task.WhenAll(nodes.Value.Items.Select(async node =>
        {
            try
            {
                return await grains.GetGrain<IVirtualNodeGrain>(node.Name).FindPod(@namespace, name).WaitAsync(CallTimeout, cancellationToken);
            }
            catch (Exception ex) when (ex is TimeoutException or OrleansException or SiloUnavailableException)
            {
                return null;
            }
        }));
        if (found.FirstOrDefault(uid => uid is not null) is { } known)
        {
            return known;
        }

        if (services.GetService<IKubernetes>() is not { } api)
        {
            return null;
        }

        try
        {
            var pod = await api.CoreV1.ReadNamespacedPodAsync(name, @namespace, cancellationToken: cancellationToken);
            return Guid.TryParse(pod.Metadata?.Uid, out var uid) ? uid : null;
        }
        catch (k8s.Autorest.HttpOperationException ex) when (ex.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
        {
            return null;
        }
    }
}
