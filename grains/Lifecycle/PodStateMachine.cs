namespace VNodeMesh.Grains.Lifecycle;

/// <summary>The clock, randomness and retry policy a transition may depend on, passed in so transitions stay pure.</summary>
/// <param name="CreateLandingGrace">How long a create sent by a lost activation may still take to land (<see cref="PodLifecycleOptions.CreateLandingGrace"/>).</param>
public readonly record struct LifecycleContext(DateTimeOffset Now, double Jitter, RetryPolicy Retry, TimeSpan CreateLandingGrace = default);

/// <summary>A transition's outcome: the new state, the effects to run once it is persisted, and its error code if any.</summary>
public readonly record struct PodTransitionResult(PodLifecycle State, IReadOnlyList<PodEffect> Effects, string? ErrorCode = null)
{
    public static implicit operator PodTransitionResult(PodLifecycle state) => new(state, []);
}

/// <summary>
/// The pod lifecycle: (state, event) → (state, effects). Pure and total: every pair has a defined
/// outcome, and pairs that do not apply leave the state unchanged with no effects.
/// </summary>
public static class PodStateMachine
{
    public const string ReasonProviderFailed = "ProviderFailed";
    public const string ReasonMaxPendingExceeded = "MaxPendingExceeded";

    public static PodTransitionResult Apply(PodLifecycle s, PodEvent e, in LifecycleContext ctx) => s.Stage switch
    {
        PodStage.New => OnNew(s, e, ctx),
        PodStage.Creating => OnCreating(s, e, ctx),
        PodStage.BackingOff => OnBackingOff(s, e, ctx),
        PodStage.Recovering => OnRecovering(s, e, ctx),
        PodStage.Scheduling or PodStage.Pending or PodStage.Running or PodStage.Restarting
            or PodStage.Updating or PodStage.Terminating => OnInstance(s, e, ctx),
        PodStage.Succeeded or PodStage.Failed => OnTerminal(s, e, ctx),
        PodStage.Deleting => OnDeleting(s, e, ctx),
        PodStage.Deleted => s,
        _ => throw new ArgumentOutOfRangeException(nameof(s), s.Stage, "unknown stage"),
    };

    /// <summary>
    /// A watchdog reminder is needed while the pod waits on work that only VNodeMesh will drive:
    /// a create, lookup or delete, a release, or a pending deadline.
    /// </summary>
    public static bool NeedsWatchdog(PodLifecycle s) => s.Releasing || s.Stage is PodStage.Creating or PodStage.BackingOff
        or PodStage.Recovering or PodStage.Deleting or PodStage.Scheduling or PodStage.Pending;

    private static PodTransitionResult OnNew(PodLifecycle s, PodEvent e, in LifecycleContext ctx) => e switch
    {
        Admitted a => StartCreate(s with { Settings = a.Settings, AcceptedAt = ctx.Now, SpecIndex = 0 }),
        Refused r => s with { Stage = PodStage.Failed, AcceptedAt = ctx.Now, Reason = r.Reason, Message = r.Message },
        DeletionRequested => Gone(s),
        _ => s,
    };

    private static PodTransitionResult OnCreating(PodLifecycle s, PodEvent e, in LifecycleContext ctx) => e switch
    {
        CreateSucceeded c => Adopt(s, c.Result.ContainerGroupId, ContainerGroupStatus.Scheduling, ctx),
        CreateFailed f => OnCreateFailed(s, f.Error, ctx),
        // An earlier attempt that timed out may still have made one: look, but without the landing grace.
        CreateNotSent => Lookup(s),
        InstanceObserved o => Adopt(s, o.Instance.ContainerGroupId, o.Instance.Status, ctx, o.Instance),
        DeletionRequested => s with { Stage = PodStage.Deleting }, // the create's outcome decides what to delete
        // The lost activation's create may have been sent and land later: if the lookup finds nothing, the
        // pod waits out the grace (adopting the instance if it appears) rather than spend budget on a replay.
        Reactivated => Lookup(ctx.CreateLandingGrace > TimeSpan.Zero ? s with { RetryAt = ctx.Now + ctx.CreateLandingGrace } : s),
        _ => s,
    };

    private static PodTransitionResult OnBackingOff(PodLifecycle s, PodEvent e, in LifecycleContext ctx) => e switch
    {
        TimerElapsed when ctx.Now >= s.PendingDeadline => PendingExpired(s),
        TimerElapsed when ctx.Now < s.RetryAt => new(s, [new ScheduleTimer(s.RetryAt.Value)]),
        TimerElapsed => StartCreate(s),
        CreateSucceeded c => Adopt(s, c.Result.ContainerGroupId, ContainerGroupStatus.Scheduling, ctx),
        InstanceObserved o => Adopt(s, o.Instance.ContainerGroupId, o.Instance.Status, ctx, o.Instance),
        // A create that timed out may still have made an instance: look before forgetting the pod.
        DeletionRequested => Lookup(s with { Stage = PodStage.Deleting, RetryAt = null, Failures = 0 }),
        Reactivated => Lookup(s),
        _ => s,
    };

    private static PodTransitionResult OnRecovering(PodLifecycle s, PodEvent e, in LifecycleContext ctx) => e switch
    {
        InstanceFound f => Adopt(s, f.Instance.ContainerGroupId, f.Instance.Status, ctx, f.Instance),
        InstanceObserved o => Adopt(s, o.Instance.ContainerGroupId, o.Instance.Status, ctx, o.Instance),
        CreateSucceeded c => Adopt(s, c.Result.ContainerGroupId, ContainerGroupStatus.Scheduling, ctx),
        InstanceMissing when ctx.Now >= s.PendingDeadline => PendingExpired(s),
        InstanceMissing when ctx.Now < s.RetryAt => new(s with { Stage = PodStage.BackingOff }, [new ScheduleTimer(s.RetryAt.Value)]),
        InstanceMissing => StartCreate(s),
        LookupFailed f => RetryLater(s, f.Error, ctx),
        TimerElapsed when ctx.Now >= s.RetryAt => Lookup(s),
        TimerElapsed when s.RetryAt is { } at => new(s, [new ScheduleTimer(at)]),
        DeletionRequested => s with { Stage = PodStage.Deleting }, // the lookup's outcome decides what to delete
        Reactivated => Lookup(s),
        _ => s,
    };

    private static PodTransitionResult OnInstance(PodLifecycle s, PodEvent e, in LifecycleContext ctx) => e switch
    {
        InstanceObserved o when o.Instance.ContainerGroupId == s.InstanceId => Observe(s, o.Instance, ctx),
        InstanceObserved o => ReleaseForeign(s, o.Instance),
        TimerElapsed when s.RunningAt is null && s.Stage is PodStage.Scheduling or PodStage.Pending
            && ctx.Now >= s.PendingDeadline => PendingExpired(s),
        DeletionRequested => new(s with { Stage = PodStage.Deleting, Failures = 0, RetryAt = null }, [new DeleteInstance(s.InstanceId!)]),
        _ => s,
    };

    private static PodTransitionResult OnTerminal(PodLifecycle s, PodEvent e, in LifecycleContext ctx) => e switch
    {
        DeletionRequested when s.InstanceId is { } id => new(s with { Stage = PodStage.Deleting, Releasing = false, Failures = 0, RetryAt = null }, [new DeleteInstance(id)]),
        // A create was tried: it may have made an instance even if it failed, so look before forgetting the pod.
        DeletionRequested when s.Attempts > 0 => Lookup(s with { Stage = PodStage.Deleting, RetryAt = null, Failures = 0 }),
        DeletionRequested => Gone(s),
        // A failed pod does not keep an instance it did not want (a create that completed late).
        CreateSucceeded c when s.Stage == PodStage.Failed && s.InstanceId is null => Release(s, c.Result.ContainerGroupId),
        InstanceObserved o when s.Stage == PodStage.Failed && s.InstanceId is null && !o.Instance.Status.IsTerminal() => Release(s, o.Instance.ContainerGroupId),
        InstanceObserved o when o.Instance.ContainerGroupId != s.InstanceId => ReleaseForeign(s, o.Instance),
        DeleteSucceeded d when s.Releasing && d.InstanceId == s.InstanceId => s with { Releasing = false, InstanceId = null, RetryAt = null, Failures = 0 },
        DeleteFailed { Error.Kind: ProviderErrorKind.NotFound } d when s.Releasing && d.InstanceId == s.InstanceId => s with { Releasing = false, InstanceId = null, RetryAt = null, Failures = 0 },
        DeleteFailed f when s.Releasing && f.InstanceId == s.InstanceId => RetryLater(s, f.Error, ctx, keepReason: true),
        TimerElapsed when s.Releasing && ctx.Now >= s.RetryAt => new(s with { RetryAt = null }, [new DeleteInstance(s.InstanceId!)]),
        Reactivated when s.Releasing => new(s, [new DeleteInstance(s.InstanceId!)]),
        _ => s,
    };

    private static PodTransitionResult OnDeleting(PodLifecycle s, PodEvent e, in LifecycleContext ctx)
    {
        if (s.InstanceId is null)
        {
            // Waiting to learn whether an instance exists (a create or lookup is in flight).
            return e switch
            {
                CreateSucceeded c => DeleteNow(s, c.Result.ContainerGroupId),
                InstanceFound f => DeleteNow(s, f.Instance.ContainerGroupId),
                InstanceObserved o => DeleteNow(s, o.Instance.ContainerGroupId),
                CreateFailed or CreateNotSent => Lookup(s), // a failed create may still have made an instance, an earlier one too
                InstanceMissing => Gone(s),
                LookupFailed f => RetryLater(s, f.Error, ctx),
                TimerElapsed when s.RetryAt is { } at && ctx.Now >= at => Lookup(s),
                Reactivated => Lookup(s),
                _ => s,
            };
        }

        return e switch
        {
            DeleteSucceeded d when d.InstanceId == s.InstanceId => Gone(s),
            DeleteFailed { Error.Kind: ProviderErrorKind.NotFound } d when d.InstanceId == s.InstanceId => Gone(s),
            DeleteFailed f when f.InstanceId == s.InstanceId => RetryLater(s, f.Error, ctx),
            InstanceObserved o when o.Instance.ContainerGroupId != s.InstanceId => ReleaseForeign(s, o.Instance),
            TimerElapsed when s.RetryAt is { } at && ctx.Now >= at => new(s with { RetryAt = null }, [new DeleteInstance(s.InstanceId)]),
            Reactivated => new(s, [new DeleteInstance(s.InstanceId)]),
            _ => s,
        };
    }

    private static PodTransitionResult StartCreate(PodLifecycle s)
    {
        var next = s with { Stage = PodStage.Creating, Attempts = s.Attempts + 1, RetryAt = null };
        return new(next, [new CreateInstance(s.Settings.SpecAt(s.SpecIndex), next.Attempts)]);
    }

    private static PodTransitionResult Lookup(PodLifecycle s) =>
        new(s.Stage == PodStage.Deleting ? s : s with { Stage = PodStage.Recovering }, [new LookupInstance()]);

    private static PodTransitionResult DeleteNow(PodLifecycle s, string instanceId) =>
        new(s with { InstanceId = instanceId, RetryAt = null, Failures = 0 }, [new DeleteInstance(instanceId)]);

    private static PodTransitionResult Gone(PodLifecycle s) =>
        new(s with { Stage = PodStage.Deleted, Releasing = false, RetryAt = null, InstanceId = null }, [new ReportGone()]);

    private static PodTransitionResult Adopt(PodLifecycle s, string instanceId, ContainerGroupStatus status, in LifecycleContext ctx, ContainerGroup? instance = null)
    {
        var adopted = s with { InstanceId = instanceId, RetryAt = null, Failures = 0, Reason = null, Message = null, Stage = PodStage.Scheduling };
        return instance is null
            ? adopted with { Stage = PodStageExtensions.FromInstanceStatus(status) }
            : Observe(adopted, instance, ctx);
    }

    private static PodTransitionResult Release(PodLifecycle s, string instanceId) =>
        new(s with { InstanceId = instanceId, Releasing = true, RetryAt = null, Failures = 0 }, [new DeleteInstance(instanceId)]);

    /// <summary>Never two instances for one pod: a live instance that is not this pod's own is deleted.</summary>
    private static PodTransitionResult ReleaseForeign(PodLifecycle s, ContainerGroup instance) => instance.Status.IsTerminal()
        ? s
        : new PodTransitionResult(s, [new DeleteInstance(instance.ContainerGroupId)], "DuplicateInstance");

    private static PodTransitionResult Observe(PodLifecycle s, ContainerGroup instance, in LifecycleContext ctx)
    {
        var stage = PodStageExtensions.FromInstanceStatus(instance.Status);
        var next = s with { Stage = stage };
        if (stage == PodStage.Running && s.RunningAt is null)
        {
            next = next with { RunningAt = ctx.Now };
        }

        if (instance.Status.IsTerminal())
        {
            // Expired and ScheduleFailed keep the instance's own status as the pod's reason.
            var reason = instance.Status is ContainerGroupStatus.Succeeded or ContainerGroupStatus.Failed
                ? instance.Reason ?? instance.Status.ToString()
                : instance.Status.ToString();
            next = next with { Reason = reason, Message = instance.Message };
        }

        return next;
    }

    private static PodTransitionResult OnCreateFailed(PodLifecycle s, ProviderError error, in LifecycleContext ctx)
    {
        if (error.Kind is ProviderErrorKind.InvalidSpec or ProviderErrorKind.Permanent)
        {
            return Fail(s, ReasonProviderFailed, $"instance creation failed permanently: {error.Code}: {error.Message}", error.Code);
        }

        // No stock for this spec: the next spec in eci-use-specs is tried at once.
        if (error.Kind == ProviderErrorKind.NoStock && s.SpecIndex + 1 < s.Settings.Specs.Count)
        {
            var next = StartCreate(s with { SpecIndex = s.SpecIndex + 1, Reason = ConditionReason(error), Message = error.Message });
            return next with { ErrorCode = error.Code };
        }

        // Throttling is VNodeMesh's own budget, not the pod's failure: every strategy retries it.
        if (s.Settings.FailStrategy == FailStrategy.FailFast && error.Kind != ProviderErrorKind.Throttled)
        {
            return Fail(s, ReasonProviderFailed, $"instance creation failed (eci-fail-strategy fail-fast): {error.Code}: {error.Message}", error.Code);
        }

        if (ctx.Now >= s.PendingDeadline)
        {
            return PendingExpired(s) with { ErrorCode = error.Code };
        }

        return RetryLater(s with { Stage = PodStage.BackingOff, SpecIndex = 0 }, error, ctx);
    }

    private static PodTransitionResult RetryLater(PodLifecycle s, ProviderError error, in LifecycleContext ctx, bool keepReason = false)
    {
        var failures = s.Failures + 1;
        var at = ctx.Now + ctx.Retry.Delay(failures, ctx.Jitter, error.Kind == ProviderErrorKind.Throttled ? error.RetryAfter : null);
        var next = s with { Failures = failures, RetryAt = at };
        if (!keepReason)
        {
            next = next with { Reason = ConditionReason(error), Message = $"{error.Code}: {error.Message}" };
        }

        return new(next, [new ScheduleTimer(at)], error.Code);
    }

    private static PodTransitionResult PendingExpired(PodLifecycle s)
    {
        var message = $"the instance was not running within {s.Settings.MaxPending.TotalMinutes:0} minutes (k8s.aliyun.com/eci-max-pending-minute)"
            + (s.Reason is null ? "" : $"; last reason: {s.Reason}");
        return Fail(s, ReasonMaxPendingExceeded, message, null);
    }

    private static PodTransitionResult Fail(PodLifecycle s, string reason, string message, string? errorCode)
    {
        var failed = s with { Stage = PodStage.Failed, Reason = reason, Message = message, RetryAt = null, Failures = 0 };
        return s.InstanceId is { } id
            ? new(failed with { Releasing = true }, [new DeleteInstance(id)], errorCode)
            : new(failed, [], errorCode);
    }

    /// <summary>The <c>ContainerInstanceCreated</c> condition reason for a provider error, as the product spells them.</summary>
    public static string ConditionReason(ProviderError error) => error.Kind switch
    {
        ProviderErrorKind.NoStock => "NoStock",
        ProviderErrorKind.Throttled => "Throttling",
        ProviderErrorKind.QuotaExceeded => "QuotaExceeded",
        ProviderErrorKind.InvalidSpec => "InvalidSpec",
        ProviderErrorKind.Permanent => ReasonProviderFailed,
        _ => "UnknownError",
    };
}
