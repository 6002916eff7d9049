namespace VNodeMesh.Contracts.Grains;

/// <summary>One virtual node, keyed by node name: admission against capacity, pod accounting and the batched status poll.</summary>
public interface IVirtualNodeGrain : IGrainWithStringKey
{
    /// <summary>Dispatches pods bound to this node to their grains; pods past capacity are refused with a reason.</summary>
    Task<SubmitResult> SubmitPods(IReadOnlyList<PodManifest> pods);

    Task DeletePods(IReadOnlyList<Guid> podUids);

    /// <summary>Stage changes reported by pod grains, so the node can account for them; acknowledged, so that a lost batch is sent again.</summary>
    Task OnPodStagesChanged(IReadOnlyList<PodStageChange> changes);

    /// <summary>
    /// Pods' phases as the API server has shown them for a while: each pod whose stage has a different
    /// phase is asked to <see cref="IPodGrain.Republish"/> its status. Returns how many were.
    /// </summary>
    Task<int> CheckApiPhases(IReadOnlyList<PodApiPhase> pods);

    [AlwaysInterleave]
    Task<VirtualNodeSummary> GetSummary();

    /// <summary>The UID of the pod with this name among the pods the node knows, if any.</summary>
    [AlwaysInterleave]
    Task<Guid?> FindPod(string @namespace, string name);
}
