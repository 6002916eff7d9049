namespace VNodeMesh.Grains.Cluster;

/// <summary>The API object of a pod.</summary>
public readonly record struct PodReference(Guid Uid, string Namespace, string Name);

/// <summary>The instance behind a pod as last created or observed: what its API status is built from.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.InstanceView")]
public sealed record InstanceView(
    [property: Id(0)] string InstanceId,
    [property: Id(1)] ContainerGroupStatus? Status = null,
    [property: Id(2)] string? RequestId = null,
    [property: Id(3)] string? ZoneId = null,
    [property: Id(4)] string? Spec = null,
    [property: Id(5)] string? IntranetIp = null,
    [property: Id(6)] IReadOnlyList<ContainerState>? Containers = null,
    [property: Id(7)] DateTimeOffset? CreatedAt = null,
    [property: Id(8)] DateTimeOffset? StatusChangedAt = null)
{
    /// <summary>What an observation adds to this view; identity and creation details are kept.</summary>
    public InstanceView With(ContainerGroup observed) => this with
    {
        Status = observed.Status,
        ZoneId = observed.ZoneId ?? ZoneId,
        Spec = observed.Spec ?? Spec,
        IntranetIp = observed.IntranetIp ?? IntranetIp,
        Containers = observed.Containers,
        CreatedAt = CreatedAt ?? observed.CreatedAt,
        StatusChangedAt = observed.StatusChangedAt,
    };

    /// <summary>An observation older than the one this view holds: delivered late, or out of order.</summary>
    public bool IsNewerThan(ContainerGroup observed) =>
        observed.ContainerGroupId == InstanceId && StatusChangedAt is { } seen && observed.StatusChangedAt < seen;

    public bool SameAs(InstanceView? other) =>
        other is not null && InstanceId == other.InstanceId && Status == other.Status && RequestId == other.RequestId
        && ZoneId == other.ZoneId && Spec == other.Spec && IntranetIp == other.IntranetIp
        && (Containers ?? []).SequenceEqual(other.Containers ?? []);
}

/// <summary>What a pod's API status should show, as of <paramref name="At"/>.</summary>
public sealed record PodView(
    DateTimeOffset At,
    PodReference Pod,
    PodStage Stage,
    string? Reason,
    string? Message,
    DateTimeOffset? AcceptedAt,
    InstanceView? Instance)
{
    /// <summary>
    /// Whether Kubernetes would see a difference. Stages that look alike there (an instance
    /// Scheduling or Pending, a create in flight or backing off with the same reason) are not
    /// written twice: Kubernetes writes are the system's physical limit.
    /// </summary>
    public bool LooksLike(PodView? other) =>
        other is not null && Stage.ToPodPhase() == other.Stage.ToPodPhase() && Visible(Stage) == Visible(other.Stage)
        && Reason == other.Reason && Message == other.Message
        && (Instance is null ? other.Instance is null : Instance.SameAs(other.Instance));

    /// <summary>Stages whose difference shows in the API status; the others show as their phase alone.</summary>
    private static PodStage Visible(PodStage stage) => stage switch
    {
        PodStage.New or PodStage.Creating or PodStage.BackingOff or PodStage.Recovering => PodStage.Creating,
        _ => stage,
    };
}

/// <summary>A Kubernetes Event about a pod: type Normal or Warning, a reason and a message.</summary>
public sealed record PodNote(bool Warning, string Reason, string Message)
{
    public static PodNote Created(InstanceView instance)
    {
        string[] details = [.. new[] { instance.Spec is { } spec ? "spec " + spec : null, instance.ZoneId is { } zone ? "zone " + zone : null }.OfType<string>()];
        return new(false, "ProviderCreateSucceeded", $"created container group {instance.InstanceId}" + (details.Length > 0 ? $" ({string.Join(", ", details)})" : ""));
    }

    /// <summary>The pod failed without an instance: refused, fail-fast, or past its pending deadline.</summary>
    public static PodNote Failed(string reason, string? message) => new(true, reason, message ?? reason);

    public static PodNote Retrying(string reason, string? message, int attempt) => new(true, reason == "NoStock" ? "ProviderNoStock" : "ProviderCreateRetrying", $"attempt {attempt} failed with {reason}: {message}; retrying");

    public static PodNote Deleted(string instanceId) => new(false, "ProviderDeleteSucceeded", $"deleted container group {instanceId}");
}
