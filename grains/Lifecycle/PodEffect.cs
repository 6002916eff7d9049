namespace VNodeMesh.Grains.Lifecycle;

/// <summary>What the pod grain must do after a transition has been persisted.</summary>
public abstract record PodEffect;

/// <summary>Create the instance with <paramref name="Spec"/> (null: sized from the pod's requests).</summary>
public sealed record CreateInstance(InstanceSpec? Spec, int Attempt) : PodEffect;

/// <summary>Look for an instance of this pod (by its UID tag) before anything is created again.</summary>
public sealed record LookupInstance : PodEffect;

public sealed record DeleteInstance(string InstanceId) : PodEffect;

/// <summary>Wake the grain at <paramref name="At"/> with <see cref="TimerElapsed"/>.</summary>
public sealed record ScheduleTimer(DateTimeOffset At) : PodEffect;

/// <summary>The instance is released; the pod may be removed from the API.</summary>
public sealed record ReportGone : PodEffect;
