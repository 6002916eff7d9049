using VNodeMesh.Contracts.Lifecycle;

namespace VNodeMesh.Contracts.Provider;

/// <summary>Tags VNodeMesh puts on every container group, so that instances can be traced to their pod.</summary>
public static class ContainerGroupTags
{
    public const string Cluster = "vnodemesh.io/cluster";
    public const string Node = "vnodemesh.io/node";
    public const string Namespace = "vnodemesh.io/namespace";
    public const string PodName = "vnodemesh.io/pod-name";
    public const string PodUid = "vnodemesh.io/pod-uid";
}

public enum ContainerStateKind : byte
{
    Waiting,
    Running,
    Terminated,
}

[GenerateSerializer, Immutable, Alias("VNodeMesh.ContainerState")]
public sealed record ContainerState(
    [property: Id(0)] string Name,
    [property: Id(1)] ContainerStateKind State,
    [property: Id(2)] bool Ready,
    [property: Id(3)] int RestartCount,
    [property: Id(4)] int? ExitCode = null,
    [property: Id(5)] string? Reason = null,
    [property: Id(6)] DateTimeOffset? StartedAt = null,
    [property: Id(7)] DateTimeOffset? FinishedAt = null);

/// <summary>What DescribeContainerGroupStatus and DescribeContainerGroups return for one container group.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.ContainerGroup")]
public sealed record ContainerGroup(
    [property: Id(0)] string ContainerGroupId,
    [property: Id(1)] ContainerGroupStatus Status,
    [property: Id(2)] IReadOnlyDictionary<string, string> Tags,
    [property: Id(3)] IReadOnlyList<ContainerState> Containers,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] DateTimeOffset StatusChangedAt,
    [property: Id(6)] string? ZoneId = null,
    [property: Id(7)] string? Spec = null,
    [property: Id(8)] string? IntranetIp = null,
    [property: Id(9)] string? Reason = null,
    [property: Id(10)] string? Message = null)
{
    public string? PodUid => Tags.TryGetValue(ContainerGroupTags.PodUid, out var uid) ? uid : null;
}

/// <summary>CreateContainerGroup: the pod to run, the spec chosen from eci-use-specs, and an idempotency token.</summary>
public sealed record CreateContainerGroupRequest(
    string ClientToken,
    string ContainerGroupName,
    k8s.Models.V1Pod Pod,
    InstanceSpec? Spec,
    IReadOnlyDictionary<string, string> Tags);

[GenerateSerializer, Immutable, Alias("VNodeMesh.CreateContainerGroupResult")]
public sealed record CreateContainerGroupResult(
    [property: Id(0)] string ContainerGroupId,
    [property: Id(1)] string RequestId,
    [property: Id(2)] string? ZoneId,
    [property: Id(3)] string? Spec);

/// <summary>DescribeContainerGroupStatus with SinceSecond: changed in the last N seconds, paged.</summary>
public sealed record ChangedSinceQuery(
    int SinceSeconds,
    int Limit = ChangedSinceQuery.MaxLimit,
    string? NextToken = null,
    IReadOnlyDictionary<string, string>? Tags = null)
{
    public const int MaxLimit = 200;
}

/// <summary>DescribeContainerGroups: by ids (at most 20) or by tags, 20 per page.</summary>
public sealed record DescribeContainerGroupsQuery(
    IReadOnlyList<string>? ContainerGroupIds = null,
    IReadOnlyDictionary<string, string>? Tags = null,
    int Limit = DescribeContainerGroupsQuery.MaxLimit,
    string? NextToken = null)
{
    public const int MaxLimit = 20;
}

public sealed record ContainerGroupPage(IReadOnlyList<ContainerGroup> Items, string? NextToken);

public sealed record ContainerGroupEvent(
    DateTimeOffset FirstTimestamp,
    DateTimeOffset LastTimestamp,
    int Count,
    string Type,
    string Reason,
    string Message);
