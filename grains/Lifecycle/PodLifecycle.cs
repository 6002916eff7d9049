namespace VNodeMesh.Grains.Lifecycle;

/// <summary>The persisted state of one pod's lifecycle. Only <see cref="PodStateMachine"/> produces new values.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodLifecycle")]
public sealed record PodLifecycle
{
    public static readonly PodLifecycle Initial = new();

    [Id(0)] public PodStage Stage { get; init; }
    [Id(1)] public PodSettings Settings { get; init; } = PodSettings.Default;
    [Id(2)] public DateTimeOffset? AcceptedAt { get; init; }
    /// <summary>Create attempts made so far.</summary>
    [Id(3)] public int Attempts { get; init; }
    /// <summary>Index into <see cref="PodSettings.Specs"/> of the current (or next) attempt.</summary>
    [Id(4)] public int SpecIndex { get; init; }
    [Id(5)] public string? InstanceId { get; init; }
    /// <summary>When the pending retry (create, lookup or delete) is due.</summary>
    [Id(6)] public DateTimeOffset? RetryAt { get; init; }
    /// <summary>Why the pod is where it is (a pod condition reason such as NoStock or ProviderFailed).</summary>
    [Id(7)] public string? Reason { get; init; }
    [Id(8)] public string? Message { get; init; }
    [Id(9)] public DateTimeOffset? RunningAt { get; init; }
    /// <summary>The pod failed or is being deleted while its instance is still being released.</summary>
    [Id(10)] public bool Releasing { get; init; }
    /// <summary>Failed attempts of the current provider operation (create, lookup or delete), for backoff.</summary>
    [Id(11)] public int Failures { get; init; }

    public DateTimeOffset? PendingDeadline => AcceptedAt + Settings.MaxPending;
}
