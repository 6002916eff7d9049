using VNodeMesh.Contracts.Lifecycle;

namespace VNodeMesh.Contracts.Grains;

/// <summary>One entry of a pod's lifecycle trace.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodTransition")]
public sealed record PodTransition(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] PodStage From,
    [property: Id(2)] PodStage To,
    [property: Id(3)] string Event,
    [property: Id(4)] int Attempt,
    [property: Id(5)] string? ErrorCode = null,
    [property: Id(6)] string? Detail = null);

/// <summary>
/// A pod as its grain sees it: state, reason and lifecycle trace. The trace keeps its first entry and
/// drops the oldest after it; <see cref="DroppedTransitions"/> counts those, missing after the first.
/// </summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodSnapshot")]
public sealed record PodSnapshot(
    [property: Id(0)] Guid Uid,
    [property: Id(1)] string? Namespace,
    [property: Id(2)] string? Name,
    [property: Id(3)] string? Node,
    [property: Id(4)] PodStage Stage,
    [property: Id(5)] PodPhase Phase,
    [property: Id(6)] string? InstanceId,
    [property: Id(7)] int Attempts,
    [property: Id(8)] string? Reason,
    [property: Id(9)] string? Message,
    [property: Id(10)] DateTimeOffset? AcceptedAt,
    [property: Id(11)] DateTimeOffset? RunningAt,
    [property: Id(12)] IReadOnlyList<PodTransition> History,
    [property: Id(13)] int DroppedTransitions = 0);

/// <summary>A pod's phase as the API server shows it.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodApiPhase")]
public readonly record struct PodApiPhase([property: Id(0)] Guid Uid, [property: Id(1)] PodPhase Phase);

/// <summary>A pod grain tells its virtual node that the pod moved between stages.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodStageChange")]
public readonly record struct PodStageChange(
    [property: Id(0)] Guid Uid,
    [property: Id(1)] PodStage From,
    [property: Id(2)] PodStage To);

[GenerateSerializer, Immutable, Alias("VNodeMesh.SubmitResult")]
public sealed record SubmitResult(
    [property: Id(0)] int Accepted,
    [property: Id(1)] int Refused,
    [property: Id(2)] int AlreadyKnown);

/// <summary>
/// A virtual node's accounting: pods per stage, capacity, its status poll, how often its pods backed
/// off and retried, and the provider budget of the silo it runs on.
/// </summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.VirtualNodeSummary")]
public sealed record VirtualNodeSummary(
    [property: Id(0)] string Node,
    [property: Id(1)] int Capacity,
    [property: Id(2)] int Pods,
    [property: Id(3)] IReadOnlyDictionary<PodStage, int> PodsByStage,
    [property: Id(4)] int RefusedForCapacity,
    [property: Id(5)] long Polls,
    [property: Id(6)] long StatusesFannedOut,
    [property: Id(7)] DateTimeOffset? LastPollAt,
    [property: Id(8)] long BackOffs = 0,
    [property: Id(9)] long Retries = 0,
    [property: Id(10)] Provider.ProviderQuotaUsage? Quota = null);
