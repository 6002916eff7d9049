using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Grains.Cluster;

namespace VNodeMesh.Grains;

/// <summary>What a pod grain persists: its lifecycle, the manifest while an instance may still be created, and its trace.</summary>
[GenerateSerializer, Alias("VNodeMesh.PodState")]
public sealed class PodState
{
    [Id(0)] public PodLifecycle Lifecycle { get; set; } = PodLifecycle.Initial;
    [Id(1)] public string? Node { get; set; }
    [Id(2)] public string? Namespace { get; set; }
    [Id(3)] public string? Name { get; set; }
    /// <summary>Dropped once the instance exists: nothing is ever created from it again.</summary>
    [Id(4)] public PodManifest? Manifest { get; set; }
    [Id(5)] public List<PodTransition> History { get; set; } = [];
    /// <summary>The instance as last created or observed: what the pod's API status shows.</summary>
    [Id(6)] public InstanceView? Instance { get; set; }
    /// <summary>
    /// The W3C trace context of the pod's first traced step: the root of its lifecycle trace, kept so that later
    /// steps join it on whichever silo the pod is active.
    /// </summary>
    [Id(7)] public string? Trace { get; set; }

    /// <summary>Transitions dropped from <see cref="History"/> to keep it within its limit.</summary>
    [Id(8)] public int DroppedTransitions { get; set; }

    public PodSnapshot ToSnapshot(Guid uid) => new(
        uid, Namespace, Name, Node, Lifecycle.Stage, Lifecycle.Stage.ToPodPhase(), Lifecycle.InstanceId, Lifecycle.Attempts,
        Lifecycle.Reason, Lifecycle.Message, Lifecycle.AcceptedAt, Lifecycle.RunningAt, [.. History], DroppedTransitions);
}
