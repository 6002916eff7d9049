using VNodeMesh.Contracts.Provider;

namespace VNodeMesh.Contracts.Lifecycle;

/// <summary>Everything that can happen to a pod: the input of the lifecycle state machine.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent")]
public abstract record PodEvent;

/// <summary>The pod passed admission; its annotations parsed into <paramref name="Settings"/>.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.Admitted")]
public sealed record Admitted([property: Id(0)] PodSettings Settings) : PodEvent;

/// <summary>The pod cannot run on a virtual node; <paramref name="Message"/> names the offending field.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.Refused")]
public sealed record Refused([property: Id(0)] string Reason, [property: Id(1)] string Message) : PodEvent;

[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.CreateSucceeded")]
public sealed record CreateSucceeded([property: Id(0)] CreateContainerGroupResult Result) : PodEvent;

[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.CreateFailed")]
public sealed record CreateFailed([property: Id(0)] ProviderError Error) : PodEvent;

/// <summary>
/// The create was cancelled before it was sent (its silo stopped while it waited for the budget): this
/// attempt made no instance, so the pod that resumes it need not wait for one to land.
/// </summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.CreateNotSent")]
public sealed record CreateNotSent : PodEvent;

/// <summary>After a restart, the lookup by pod UID found the pod's instance.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.InstanceFound")]
public sealed record InstanceFound([property: Id(0)] ContainerGroup Instance) : PodEvent;

/// <summary>After a restart, the lookup by pod UID found no instance: it is safe to create one.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.InstanceMissing")]
public sealed record InstanceMissing : PodEvent;

/// <summary>The lookup itself failed; it is retried after a backoff.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.LookupFailed")]
public sealed record LookupFailed([property: Id(0)] ProviderError Error) : PodEvent;

/// <summary>The status poll saw the instance.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.InstanceObserved")]
public sealed record InstanceObserved([property: Id(0)] ContainerGroup Instance) : PodEvent;

[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.DeletionRequested")]
public sealed record DeletionRequested : PodEvent;

/// <summary>The instance was deleted, or was already gone.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.DeleteSucceeded")]
public sealed record DeleteSucceeded([property: Id(0)] string InstanceId) : PodEvent;

[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.DeleteFailed")]
public sealed record DeleteFailed([property: Id(0)] string InstanceId, [property: Id(1)] ProviderError Error) : PodEvent;

/// <summary>A timer or the watchdog fired: retries that are due run, deadlines that passed apply.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.TimerElapsed")]
public sealed record TimerElapsed : PodEvent;

/// <summary>The grain was activated with persisted state: whatever was in flight may or may not have happened.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodEvent.Reactivated")]
public sealed record Reactivated : PodEvent;
