namespace VNodeMesh.Contracts.Lifecycle;

/// <summary>ECI container-group statuses, as the provider reports them.</summary>
public enum ContainerGroupStatus : byte
{
    Scheduling,
    Pending,
    Running,
    Restarting,
    Updating,
    Terminating,
    Succeeded,
    Failed,
    Expired,
    ScheduleFailed,
}

/// <summary>Kubernetes pod phases.</summary>
public enum PodPhase : byte
{
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

public static class ContainerGroupStatusExtensions
{
    public static bool IsTerminal(this ContainerGroupStatus status) =>
        status is ContainerGroupStatus.Succeeded or ContainerGroupStatus.Failed
            or ContainerGroupStatus.Expired or ContainerGroupStatus.ScheduleFailed;

    /// <summary>The pod phase that mirrors an instance status (DESIGN.md lifecycle table).</summary>
    public static PodPhase ToPodPhase(this ContainerGroupStatus status) => status switch
    {
        ContainerGroupStatus.Running or ContainerGroupStatus.Terminating => PodPhase.Running,
        ContainerGroupStatus.Succeeded => PodPhase.Succeeded,
        ContainerGroupStatus.Failed or ContainerGroupStatus.Expired or ContainerGroupStatus.ScheduleFailed => PodPhase.Failed,
        _ => PodPhase.Pending,
    };
}
