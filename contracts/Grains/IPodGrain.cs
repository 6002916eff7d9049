using VNodeMesh.Contracts.Lifecycle;

namespace VNodeMesh.Contracts.Grains;

/// <summary>One pod's lifecycle, keyed by the pod's UID. Every call returns at once: provider work runs behind it.</summary>
public interface IPodGrain : IGrainWithGuidKey
{
    /// <summary>Admits the pod (or refuses it with a reason) and starts its instance's creation.</summary>
    Task<PodStage> Submit(string node, PodManifest pod);

    /// <summary>The node cannot take the pod (for example it is at capacity): the pod fails with this reason.</summary>
    Task Reject(string node, PodManifest pod, string reason, string message);

    /// <summary>The pod is being deleted: release its instance, then report it gone.</summary>
    Task RequestDeletion();

    /// <summary>The node's batched status poll saw this pod's instance; acknowledged, so that a status that was not delivered is sent again.</summary>
    Task OnInstanceStatus(Provider.ContainerGroup instance);

    /// <summary>
    /// The node has heard nothing of this pod for a while: it reports its stage again, and a pod
    /// waiting on its instance asks the provider for the instance's status.
    /// </summary>
    [OneWay]
    Task Resync();

    /// <summary>The API server shows the pod other than its stage (a status write was lost with a silo): the status is written again.</summary>
    [OneWay]
    Task Republish();

    /// <summary>
    /// The outcome of a provider call the grain started, delivered as a message so it is applied in
    /// turn; acknowledged, so that an outcome that could not be delivered is sent again.
    /// </summary>
    Task OnProviderOutcome(PodEvent outcome);

    [AlwaysInterleave]
    Task<PodSnapshot> GetSnapshot();
}
