namespace VNodeMesh.Contracts.Lifecycle;

/// <summary>Where a pod is in VNodeMesh's lifecycle: the state of the pod state machine.</summary>
public enum PodStage : byte
{
    /// <summary>Not seen yet.</summary>
    New,
    /// <summary>A create call is in flight (or queued behind the provider's budget).</summary>
    Creating,
    /// <summary>A create failed; the next attempt waits for its backoff.</summary>
    BackingOff,
    /// <summary>Reactivated with a create possibly done: looking for an existing instance first.</summary>
    Recovering,
    Scheduling,
    Pending,
    Running,
    Restarting,
    Updating,
    Terminating,
    Succeeded,
    Failed,
    /// <summary>Deletion requested: the instance is being released.</summary>
    Deleting,
    /// <summary>The instance is gone and the pod may be removed.</summary>
    Deleted,
}

public static class PodStageExtensions
{
    public static PodPhase ToPodPhase(this PodStage stage) => stage switch
    {
        PodStage.Running or PodStage.Terminating => PodPhase.Running,
        PodStage.Succeeded => PodPhase.Succeeded,
        PodStage.Failed => PodPhase.Failed,
        PodStage.Deleting or PodStage.Deleted => PodPhase.Unknown,
        _ => PodPhase.Pending,
    };

    public static PodStage FromInstanceStatus(ContainerGroupStatus status) => status switch
    {
        ContainerGroupStatus.Scheduling => PodStage.Scheduling,
        ContainerGroupStatus.Pending => PodStage.Pending,
        ContainerGroupStatus.Running => PodStage.Running,
        ContainerGroupStatus.Restarting => PodStage.Restarting,
        ContainerGroupStatus.Updating => PodStage.Updating,
        ContainerGroupStatus.Terminating => PodStage.Terminating,
        ContainerGroupStatus.Succeeded => PodStage.Succeeded,
        _ => PodStage.Failed,
    };
}
