using VNodeMesh.Grains.Lifecycle;
using static VNodeMesh.Tests.Lifecycle.LifecycleTestKit;
using S = VNodeMesh.Contracts.Lifecycle.PodStage;

namespace VNodeMesh.Tests.Lifecycle;

/// <summary>
/// Every (stage, event) pair of <see cref="PodStateMachine"/>, written out as an explicit table of expected
/// outcomes. The expectations come from the lifecycle semantics (DESIGN.md: Lifecycle, Durability), not
/// from running the machine.
/// </summary>
public sealed class PodStateMachinePairTests
{
    // Expected effects, in order, by type name.
    private const string NoOp = "no-op"; // the state is left exactly as it was and nothing is emitted
    private const string None = "";      // the state changes, nothing is emitted
    private const string Create = nameof(CreateInstance);
    private const string Lookup = nameof(LookupInstance);
    private const string Delete = nameof(DeleteInstance);
    private const string Timer = nameof(ScheduleTimer);
    private const string Gone = nameof(ReportGone);

    /// <summary>Representative states, by name. Every state that has an instance has "eci-1".</summary>
    private static readonly IReadOnlyDictionary<string, PodLifecycle> States = new Dictionary<string, PodLifecycle>
    {
        ["New"] = PodLifecycle.Initial,
        ["Creating"] = Accepted(S.Creating),
        // A create failed once; its retry is due (RetryAt in the past) or not yet (RetryAt in the future).
        ["BackingOff(due)"] = Accepted(S.BackingOff) with { Failures = 1, RetryAt = T0.AddSeconds(-1), Reason = "UnknownError" },
        ["BackingOff(not due)"] = Accepted(S.BackingOff) with { Failures = 1, RetryAt = T0.AddSeconds(30), Reason = "UnknownError" },
        // Reactivated while Creating: the lookup is in flight, no retry time.
        ["Recovering"] = Accepted(S.Recovering),
        // Reactivated while BackingOff with the retry not due yet.
        ["Recovering(not due)"] = Accepted(S.Recovering) with { Failures = 1, RetryAt = T0.AddSeconds(30), Reason = "UnknownError" },
        ["Scheduling"] = Accepted(S.Scheduling) with { InstanceId = "eci-1" },
        ["Pending"] = Accepted(S.Pending) with { InstanceId = "eci-1" },
        ["Running"] = Accepted(S.Running) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5) },
        ["Restarting"] = Accepted(S.Restarting) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5) },
        ["Updating"] = Accepted(S.Updating) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5) },
        ["Terminating"] = Accepted(S.Terminating) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5) },
        ["Succeeded"] = Accepted(S.Succeeded) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5), Reason = "Completed" },
        // Refused at admission: no create was ever made (Attempts 0).
        ["Failed(no instance, refused)"] = PodLifecycle.Initial with { Stage = S.Failed, AcceptedAt = T0.AddMinutes(-10), Reason = "Unsupported", Message = "spec.hostNetwork" },
        // Failed after a create was tried (fail-fast on a create that timed out): the provider may have made an instance.
        ["Failed(no instance, created)"] = Accepted(S.Failed) with { Reason = PodStateMachine.ReasonProviderFailed, Message = "InternalError: The operation was canceled." },
        // The instance itself failed; the pod keeps it until it is deleted.
        ["Failed(instance)"] = Accepted(S.Failed) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5), Reason = "Error" },
        // Failed by VNodeMesh (max pending) while its instance is being released; a release retry is due.
        ["Failed(releasing)"] = Accepted(S.Failed) with
        {
            InstanceId = "eci-1", Releasing = true, Failures = 1, RetryAt = T0.AddSeconds(-1), Reason = PodStateMachine.ReasonMaxPendingExceeded,
        },
        // Deletion requested while a create was in flight: waiting to learn whether an instance exists.
        ["Deleting(no instance)"] = Accepted(S.Deleting),
        // Deleting eci-1; the first delete failed and its retry is due.
        ["Deleting(instance)"] = Accepted(S.Deleting) with { InstanceId = "eci-1", Failures = 1, RetryAt = T0.AddSeconds(-1) },
        ["Deleted"] = PodLifecycle.Initial with { Stage = S.Deleted },
    };

    /// <summary>
    /// Representative events, by name. "eci-1" is the instance the pod owns (or would own); "eci-2" is another one.
    /// A delete outcome names the instance it is about: only the pod's own instance's outcome moves the pod.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, PodEvent> Events = new Dictionary<string, PodEvent>
    {
        ["Admitted"] = new Admitted(PodSettings.Default),
        ["Refused"] = new Refused("Unsupported", "spec.hostNetwork is not supported on a virtual node"),
        ["CreateSucceeded"] = Created("eci-1"),
        ["CreateFailed"] = new CreateFailed(Error(ProviderErrorKind.Transient)),
        ["CreateNotSent"] = new CreateNotSent(),
        ["InstanceFound"] = new InstanceFound(Instance("eci-1", ContainerGroupStatus.Running)),
        ["InstanceMissing"] = new InstanceMissing(),
        ["LookupFailed"] = new LookupFailed(Error(ProviderErrorKind.Transient)),
        ["InstanceObserved(eci-1)"] = Observed("eci-1", ContainerGroupStatus.Running),
        ["InstanceObserved(eci-2)"] = Observed("eci-2", ContainerGroupStatus.Running),
        ["DeletionRequested"] = new DeletionRequested(),
        ["DeleteSucceeded(eci-1)"] = new DeleteSucceeded("eci-1"),
        ["DeleteFailed(eci-1)"] = new DeleteFailed("eci-1", Error(ProviderErrorKind.Transient)),
        ["DeleteFailed(NotFound, eci-1)"] = new DeleteFailed("eci-1", Error(ProviderErrorKind.NotFound)),
        ["DeleteSucceeded(eci-2)"] = new DeleteSucceeded("eci-2"),
        ["DeleteFailed(eci-2)"] = new DeleteFailed("eci-2", Error(ProviderErrorKind.Transient)),
        ["DeleteFailed(NotFound, eci-2)"] = new DeleteFailed("eci-2", Error(ProviderErrorKind.NotFound)),
        ["TimerElapsed"] = new TimerElapsed(),
        ["Reactivated"] = new Reactivated(),
    };

    /// <summary>(state, event) → (expected stage, expected effects). Context: now = T0, jitter 0.5, default policy.</summary>
    private static readonly (string State, string Event, PodStage Stage, string Effects)[] Table =
    [
        // ── New ──────────────────────────────────────────────────────────────────────────────
        ("New", "Admitted", S.Creating, Create),
        ("New", "Refused", S.Failed, None),
        ("New", "CreateSucceeded", S.New, NoOp),
        ("New", "CreateFailed", S.New, NoOp),
        ("New", "CreateNotSent", S.New, NoOp),
        ("New", "InstanceFound", S.New, NoOp),
        ("New", "InstanceMissing", S.New, NoOp),
        ("New", "LookupFailed", S.New, NoOp),
        ("New", "InstanceObserved(eci-1)", S.New, NoOp),
        ("New", "InstanceObserved(eci-2)", S.New, NoOp),
        ("New", "DeletionRequested", S.Deleted, Gone),
        ("New", "DeleteSucceeded(eci-1)", S.New, NoOp),
        ("New", "DeleteFailed(eci-1)", S.New, NoOp),
        ("New", "DeleteFailed(NotFound, eci-1)", S.New, NoOp),
        ("New", "DeleteSucceeded(eci-2)", S.New, NoOp),
        ("New", "DeleteFailed(eci-2)", S.New, NoOp),
        ("New", "DeleteFailed(NotFound, eci-2)", S.New, NoOp),
        ("New", "TimerElapsed", S.New, NoOp),
        ("New", "Reactivated", S.New, NoOp),

        // ── Creating: a create is in flight ─────────────────────────────────────────────────
        ("Creating", "Admitted", S.Creating, NoOp),
        ("Creating", "Refused", S.Creating, NoOp),
        ("Creating", "CreateSucceeded", S.Scheduling, None),
        ("Creating", "CreateFailed", S.BackingOff, Timer),
        ("Creating", "CreateNotSent", S.Recovering, Lookup), // an earlier attempt may have made one: looked for, without the landing grace
        ("Creating", "InstanceFound", S.Creating, NoOp),
        ("Creating", "InstanceMissing", S.Creating, NoOp),
        ("Creating", "LookupFailed", S.Creating, NoOp),
        ("Creating", "InstanceObserved(eci-1)", S.Running, None),
        ("Creating", "InstanceObserved(eci-2)", S.Running, None),
        ("Creating", "DeletionRequested", S.Deleting, None), // the create's outcome decides what to delete
        ("Creating", "DeleteSucceeded(eci-1)", S.Creating, NoOp),
        ("Creating", "DeleteFailed(eci-1)", S.Creating, NoOp),
        ("Creating", "DeleteFailed(NotFound, eci-1)", S.Creating, NoOp),
        ("Creating", "DeleteSucceeded(eci-2)", S.Creating, NoOp),
        ("Creating", "DeleteFailed(eci-2)", S.Creating, NoOp),
        ("Creating", "DeleteFailed(NotFound, eci-2)", S.Creating, NoOp),
        ("Creating", "TimerElapsed", S.Creating, NoOp),
        ("Creating", "Reactivated", S.Recovering, Lookup),

        // ── BackingOff, retry due ───────────────────────────────────────────────────────────
        ("BackingOff(due)", "Admitted", S.BackingOff, NoOp),
        ("BackingOff(due)", "Refused", S.BackingOff, NoOp),
        ("BackingOff(due)", "CreateSucceeded", S.Scheduling, None),
        ("BackingOff(due)", "CreateFailed", S.BackingOff, NoOp),
        ("BackingOff(due)", "CreateNotSent", S.BackingOff, NoOp),
        ("BackingOff(due)", "InstanceFound", S.BackingOff, NoOp),
        ("BackingOff(due)", "InstanceMissing", S.BackingOff, NoOp),
        ("BackingOff(due)", "LookupFailed", S.BackingOff, NoOp),
        ("BackingOff(due)", "InstanceObserved(eci-1)", S.Running, None),
        ("BackingOff(due)", "InstanceObserved(eci-2)", S.Running, None),
        ("BackingOff(due)", "DeletionRequested", S.Deleting, Lookup), // a timed-out create may have made an instance
        ("BackingOff(due)", "DeleteSucceeded(eci-1)", S.BackingOff, NoOp),
        ("BackingOff(due)", "DeleteFailed(eci-1)", S.BackingOff, NoOp),
        ("BackingOff(due)", "DeleteFailed(NotFound, eci-1)", S.BackingOff, NoOp),
        ("BackingOff(due)", "DeleteSucceeded(eci-2)", S.BackingOff, NoOp),
        ("BackingOff(due)", "DeleteFailed(eci-2)", S.BackingOff, NoOp),
        ("BackingOff(due)", "DeleteFailed(NotFound, eci-2)", S.BackingOff, NoOp),
        ("BackingOff(due)", "TimerElapsed", S.Creating, Create),
        ("BackingOff(due)", "Reactivated", S.Recovering, Lookup),

        // ── BackingOff, retry not due ───────────────────────────────────────────────────────
        ("BackingOff(not due)", "Admitted", S.BackingOff, NoOp),
        ("BackingOff(not due)", "Refused", S.BackingOff, NoOp),
        ("BackingOff(not due)", "CreateSucceeded", S.Scheduling, None),
        ("BackingOff(not due)", "CreateFailed", S.BackingOff, NoOp),
        ("BackingOff(not due)", "CreateNotSent", S.BackingOff, NoOp),
        ("BackingOff(not due)", "InstanceFound", S.BackingOff, NoOp),
        ("BackingOff(not due)", "InstanceMissing", S.BackingOff, NoOp),
        ("BackingOff(not due)", "LookupFailed", S.BackingOff, NoOp),
        ("BackingOff(not due)", "InstanceObserved(eci-1)", S.Running, None),
        ("BackingOff(not due)", "InstanceObserved(eci-2)", S.Running, None),
        ("BackingOff(not due)", "DeletionRequested", S.Deleting, Lookup),
        ("BackingOff(not due)", "DeleteSucceeded(eci-1)", S.BackingOff, NoOp),
        ("BackingOff(not due)", "DeleteFailed(eci-1)", S.BackingOff, NoOp),
        ("BackingOff(not due)", "DeleteFailed(NotFound, eci-1)", S.BackingOff, NoOp),
        ("BackingOff(not due)", "DeleteSucceeded(eci-2)", S.BackingOff, NoOp),
        ("BackingOff(not due)", "DeleteFailed(eci-2)", S.BackingOff, NoOp),
        ("BackingOff(not due)", "DeleteFailed(NotFound, eci-2)", S.BackingOff, NoOp),
        ("BackingOff(not due)", "TimerElapsed", S.BackingOff, Timer), // re-armed for RetryAt
        ("BackingOff(not due)", "Reactivated", S.Recovering, Lookup),

        // ── Recovering: a lookup is in flight ───────────────────────────────────────────────
        ("Recovering", "Admitted", S.Recovering, NoOp),
        ("Recovering", "Refused", S.Recovering, NoOp),
        ("Recovering", "CreateSucceeded", S.Scheduling, None),
        ("Recovering", "CreateFailed", S.Recovering, NoOp), // the lookup decides
        ("Recovering", "CreateNotSent", S.Recovering, NoOp),
        ("Recovering", "InstanceFound", S.Running, None),
        ("Recovering", "InstanceMissing", S.Creating, Create),
        ("Recovering", "LookupFailed", S.Recovering, Timer),
        ("Recovering", "InstanceObserved(eci-1)", S.Running, None),
        ("Recovering", "InstanceObserved(eci-2)", S.Running, None),
        ("Recovering", "DeletionRequested", S.Deleting, None), // the lookup's outcome decides what to delete
        ("Recovering", "DeleteSucceeded(eci-1)", S.Recovering, NoOp),
        ("Recovering", "DeleteFailed(eci-1)", S.Recovering, NoOp),
        ("Recovering", "DeleteFailed(NotFound, eci-1)", S.Recovering, NoOp),
        ("Recovering", "DeleteSucceeded(eci-2)", S.Recovering, NoOp),
        ("Recovering", "DeleteFailed(eci-2)", S.Recovering, NoOp),
        ("Recovering", "DeleteFailed(NotFound, eci-2)", S.Recovering, NoOp),
        ("Recovering", "TimerElapsed", S.Recovering, NoOp),
        ("Recovering", "Reactivated", S.Recovering, Lookup),

        // ── Recovering, with a create retry not due yet ─────────────────────────────────────
        ("Recovering(not due)", "Admitted", S.Recovering, NoOp),
        ("Recovering(not due)", "Refused", S.Recovering, NoOp),
        ("Recovering(not due)", "CreateSucceeded", S.Scheduling, None),
        ("Recovering(not due)", "CreateFailed", S.Recovering, NoOp),
        ("Recovering(not due)", "CreateNotSent", S.Recovering, NoOp),
        ("Recovering(not due)", "InstanceFound", S.Running, None),
        ("Recovering(not due)", "InstanceMissing", S.BackingOff, Timer), // back to waiting for RetryAt
        ("Recovering(not due)", "LookupFailed", S.Recovering, Timer),
        ("Recovering(not due)", "InstanceObserved(eci-1)", S.Running, None),
        ("Recovering(not due)", "InstanceObserved(eci-2)", S.Running, None),
        ("Recovering(not due)", "DeletionRequested", S.Deleting, None),
        ("Recovering(not due)", "DeleteSucceeded(eci-1)", S.Recovering, NoOp),
        ("Recovering(not due)", "DeleteFailed(eci-1)", S.Recovering, NoOp),
        ("Recovering(not due)", "DeleteFailed(NotFound, eci-1)", S.Recovering, NoOp),
        ("Recovering(not due)", "DeleteSucceeded(eci-2)", S.Recovering, NoOp),
        ("Recovering(not due)", "DeleteFailed(eci-2)", S.Recovering, NoOp),
        ("Recovering(not due)", "DeleteFailed(NotFound, eci-2)", S.Recovering, NoOp),
        ("Recovering(not due)", "TimerElapsed", S.Recovering, Timer),
        ("Recovering(not due)", "Reactivated", S.Recovering, Lookup),

        // ── Scheduling (owns eci-1, never ran, deadline not passed) ─────────────────────────
        ("Scheduling", "Admitted", S.Scheduling, NoOp),
        ("Scheduling", "Refused", S.Scheduling, NoOp),
        ("Scheduling", "CreateSucceeded", S.Scheduling, NoOp),
        ("Scheduling", "CreateFailed", S.Scheduling, NoOp),
        ("Scheduling", "CreateNotSent", S.Scheduling, NoOp),
        ("Scheduling", "InstanceFound", S.Scheduling, NoOp),
        ("Scheduling", "InstanceMissing", S.Scheduling, NoOp),
        ("Scheduling", "LookupFailed", S.Scheduling, NoOp),
        ("Scheduling", "InstanceObserved(eci-1)", S.Running, None),
        ("Scheduling", "InstanceObserved(eci-2)", S.Scheduling, Delete), // never two instances for one pod
        ("Scheduling", "DeletionRequested", S.Deleting, Delete),
        ("Scheduling", "DeleteSucceeded(eci-1)", S.Scheduling, NoOp),
        ("Scheduling", "DeleteFailed(eci-1)", S.Scheduling, NoOp),
        ("Scheduling", "DeleteFailed(NotFound, eci-1)", S.Scheduling, NoOp),
        ("Scheduling", "DeleteSucceeded(eci-2)", S.Scheduling, NoOp),
        ("Scheduling", "DeleteFailed(eci-2)", S.Scheduling, NoOp),
        ("Scheduling", "DeleteFailed(NotFound, eci-2)", S.Scheduling, NoOp),
        ("Scheduling", "TimerElapsed", S.Scheduling, NoOp),
        ("Scheduling", "Reactivated", S.Scheduling, NoOp),

        // ── Pending ─────────────────────────────────────────────────────────────────────────
        ("Pending", "Admitted", S.Pending, NoOp),
        ("Pending", "Refused", S.Pending, NoOp),
        ("Pending", "CreateSucceeded", S.Pending, NoOp),
        ("Pending", "CreateFailed", S.Pending, NoOp),
        ("Pending", "CreateNotSent", S.Pending, NoOp),
        ("Pending", "InstanceFound", S.Pending, NoOp),
        ("Pending", "InstanceMissing", S.Pending, NoOp),
        ("Pending", "LookupFailed", S.Pending, NoOp),
        ("Pending", "InstanceObserved(eci-1)", S.Running, None),
        ("Pending", "InstanceObserved(eci-2)", S.Pending, Delete),
        ("Pending", "DeletionRequested", S.Deleting, Delete),
        ("Pending", "DeleteSucceeded(eci-1)", S.Pending, NoOp),
        ("Pending", "DeleteFailed(eci-1)", S.Pending, NoOp),
        ("Pending", "DeleteFailed(NotFound, eci-1)", S.Pending, NoOp),
        ("Pending", "DeleteSucceeded(eci-2)", S.Pending, NoOp),
        ("Pending", "DeleteFailed(eci-2)", S.Pending, NoOp),
        ("Pending", "DeleteFailed(NotFound, eci-2)", S.Pending, NoOp),
        ("Pending", "TimerElapsed", S.Pending, NoOp),
        ("Pending", "Reactivated", S.Pending, NoOp),

        // ── Running ─────────────────────────────────────────────────────────────────────────
        ("Running", "Admitted", S.Running, NoOp),
        ("Running", "Refused", S.Running, NoOp),
        ("Running", "CreateSucceeded", S.Running, NoOp),
        ("Running", "CreateFailed", S.Running, NoOp),
        ("Running", "CreateNotSent", S.Running, NoOp),
        ("Running", "InstanceFound", S.Running, NoOp),
        ("Running", "InstanceMissing", S.Running, NoOp),
        ("Running", "LookupFailed", S.Running, NoOp),
        ("Running", "InstanceObserved(eci-1)", S.Running, NoOp), // already running, RunningAt kept
        ("Running", "InstanceObserved(eci-2)", S.Running, Delete),
        ("Running", "DeletionRequested", S.Deleting, Delete),
        ("Running", "DeleteSucceeded(eci-1)", S.Running, NoOp),
        ("Running", "DeleteFailed(eci-1)", S.Running, NoOp),
        ("Running", "DeleteFailed(NotFound, eci-1)", S.Running, NoOp),
        ("Running", "DeleteSucceeded(eci-2)", S.Running, NoOp), // e.g. the outcome of deleting a duplicate
        ("Running", "DeleteFailed(eci-2)", S.Running, NoOp),
        ("Running", "DeleteFailed(NotFound, eci-2)", S.Running, NoOp),
        ("Running", "TimerElapsed", S.Running, NoOp),
        ("Running", "Reactivated", S.Running, NoOp),

        // ── Restarting ──────────────────────────────────────────────────────────────────────
        ("Restarting", "Admitted", S.Restarting, NoOp),
        ("Restarting", "Refused", S.Restarting, NoOp),
        ("Restarting", "CreateSucceeded", S.Restarting, NoOp),
        ("Restarting", "CreateFailed", S.Restarting, NoOp),
        ("Restarting", "CreateNotSent", S.Restarting, NoOp),
        ("Restarting", "InstanceFound", S.Restarting, NoOp),
        ("Restarting", "InstanceMissing", S.Restarting, NoOp),
        ("Restarting", "LookupFailed", S.Restarting, NoOp),
        ("Restarting", "InstanceObserved(eci-1)", S.Running, None),
        ("Restarting", "InstanceObserved(eci-2)", S.Restarting, Delete),
        ("Restarting", "DeletionRequested", S.Deleting, Delete),
        ("Restarting", "DeleteSucceeded(eci-1)", S.Restarting, NoOp),
        ("Restarting", "DeleteFailed(eci-1)", S.Restarting, NoOp),
        ("Restarting", "DeleteFailed(NotFound, eci-1)", S.Restarting, NoOp),
        ("Restarting", "DeleteSucceeded(eci-2)", S.Restarting, NoOp),
        ("Restarting", "DeleteFailed(eci-2)", S.Restarting, NoOp),
        ("Restarting", "DeleteFailed(NotFound, eci-2)", S.Restarting, NoOp),
        ("Restarting", "TimerElapsed", S.Restarting, NoOp),
        ("Restarting", "Reactivated", S.Restarting, NoOp),

        // ── Updating ────────────────────────────────────────────────────────────────────────
        ("Updating", "Admitted", S.Updating, NoOp),
        ("Updating", "Refused", S.Updating, NoOp),
        ("Updating", "CreateSucceeded", S.Updating, NoOp),
        ("Updating", "CreateFailed", S.Updating, NoOp),
        ("Updating", "CreateNotSent", S.Updating, NoOp),
        ("Updating", "InstanceFound", S.Updating, NoOp),
        ("Updating", "InstanceMissing", S.Updating, NoOp),
        ("Updating", "LookupFailed", S.Updating, NoOp),
        ("Updating", "InstanceObserved(eci-1)", S.Running, None),
        ("Updating", "InstanceObserved(eci-2)", S.Updating, Delete),
        ("Updating", "DeletionRequested", S.Deleting, Delete),
        ("Updating", "DeleteSucceeded(eci-1)", S.Updating, NoOp),
        ("Updating", "DeleteFailed(eci-1)", S.Updating, NoOp),
        ("Updating", "DeleteFailed(NotFound, eci-1)", S.Updating, NoOp),
        ("Updating", "DeleteSucceeded(eci-2)", S.Updating, NoOp),
        ("Updating", "DeleteFailed(eci-2)", S.Updating, NoOp),
        ("Updating", "DeleteFailed(NotFound, eci-2)", S.Updating, NoOp),
        ("Updating", "TimerElapsed", S.Updating, NoOp),
        ("Updating", "Reactivated", S.Updating, NoOp),

        // ── Terminating ─────────────────────────────────────────────────────────────────────
        ("Terminating", "Admitted", S.Terminating, NoOp),
        ("Terminating", "Refused", S.Terminating, NoOp),
        ("Terminating", "CreateSucceeded", S.Terminating, NoOp),
        ("Terminating", "CreateFailed", S.Terminating, NoOp),
        ("Terminating", "CreateNotSent", S.Terminating, NoOp),
        ("Terminating", "InstanceFound", S.Terminating, NoOp),
        ("Terminating", "InstanceMissing", S.Terminating, NoOp),
        ("Terminating", "LookupFailed", S.Terminating, NoOp),
        ("Terminating", "InstanceObserved(eci-1)", S.Running, None),
        ("Terminating", "InstanceObserved(eci-2)", S.Terminating, Delete),
        ("Terminating", "DeletionRequested", S.Deleting, Delete),
        ("Terminating", "DeleteSucceeded(eci-1)", S.Terminating, NoOp),
        ("Terminating", "DeleteFailed(eci-1)", S.Terminating, NoOp),
        ("Terminating", "DeleteFailed(NotFound, eci-1)", S.Terminating, NoOp),
        ("Terminating", "DeleteSucceeded(eci-2)", S.Terminating, NoOp),
        ("Terminating", "DeleteFailed(eci-2)", S.Terminating, NoOp),
        ("Terminating", "DeleteFailed(NotFound, eci-2)", S.Terminating, NoOp),
        ("Terminating", "TimerElapsed", S.Terminating, NoOp),
        ("Terminating", "Reactivated", S.Terminating, NoOp),

        // ── Succeeded (keeps eci-1 until the pod is deleted) ────────────────────────────────
        ("Succeeded", "Admitted", S.Succeeded, NoOp),
        ("Succeeded", "Refused", S.Succeeded, NoOp),
        ("Succeeded", "CreateSucceeded", S.Succeeded, NoOp),
        ("Succeeded", "CreateFailed", S.Succeeded, NoOp),
        ("Succeeded", "CreateNotSent", S.Succeeded, NoOp),
        ("Succeeded", "InstanceFound", S.Succeeded, NoOp),
        ("Succeeded", "InstanceMissing", S.Succeeded, NoOp),
        ("Succeeded", "LookupFailed", S.Succeeded, NoOp),
        ("Succeeded", "InstanceObserved(eci-1)", S.Succeeded, NoOp), // a stale status of its own terminal instance
        ("Succeeded", "InstanceObserved(eci-2)", S.Succeeded, Delete), // never two instances: a live stranger is released
        ("Succeeded", "DeletionRequested", S.Deleting, Delete),
        ("Succeeded", "DeleteSucceeded(eci-1)", S.Succeeded, NoOp),
        ("Succeeded", "DeleteFailed(eci-1)", S.Succeeded, NoOp),
        ("Succeeded", "DeleteFailed(NotFound, eci-1)", S.Succeeded, NoOp),
        ("Succeeded", "DeleteSucceeded(eci-2)", S.Succeeded, NoOp),
        ("Succeeded", "DeleteFailed(eci-2)", S.Succeeded, NoOp),
        ("Succeeded", "DeleteFailed(NotFound, eci-2)", S.Succeeded, NoOp),
        ("Succeeded", "TimerElapsed", S.Succeeded, NoOp),
        ("Succeeded", "Reactivated", S.Succeeded, NoOp),

        // ── Failed without an instance, refused at admission (no create was ever made) ──────
        ("Failed(no instance, refused)", "Admitted", S.Failed, NoOp),
        ("Failed(no instance, refused)", "Refused", S.Failed, NoOp),
        ("Failed(no instance, refused)", "CreateSucceeded", S.Failed, Delete), // a late create: released, never kept
        ("Failed(no instance, refused)", "CreateFailed", S.Failed, NoOp),
        ("Failed(no instance, refused)", "CreateNotSent", S.Failed, NoOp),
        ("Failed(no instance, refused)", "InstanceFound", S.Failed, NoOp),
        ("Failed(no instance, refused)", "InstanceMissing", S.Failed, NoOp),
        ("Failed(no instance, refused)", "LookupFailed", S.Failed, NoOp),
        ("Failed(no instance, refused)", "InstanceObserved(eci-1)", S.Failed, Delete), // a late instance seen by the poll: released
        ("Failed(no instance, refused)", "InstanceObserved(eci-2)", S.Failed, Delete),
        ("Failed(no instance, refused)", "DeletionRequested", S.Deleted, Gone), // nothing can exist: gone at once
        ("Failed(no instance, refused)", "DeleteSucceeded(eci-1)", S.Failed, NoOp),
        ("Failed(no instance, refused)", "DeleteFailed(eci-1)", S.Failed, NoOp),
        ("Failed(no instance, refused)", "DeleteFailed(NotFound, eci-1)", S.Failed, NoOp),
        ("Failed(no instance, refused)", "DeleteSucceeded(eci-2)", S.Failed, NoOp),
        ("Failed(no instance, refused)", "DeleteFailed(eci-2)", S.Failed, NoOp),
        ("Failed(no instance, refused)", "DeleteFailed(NotFound, eci-2)", S.Failed, NoOp),
        ("Failed(no instance, refused)", "TimerElapsed", S.Failed, NoOp),
        ("Failed(no instance, refused)", "Reactivated", S.Failed, NoOp),

        // ── Failed without an instance after a create was tried (e.g. fail-fast on a timeout) ─
        ("Failed(no instance, created)", "Admitted", S.Failed, NoOp),
        ("Failed(no instance, created)", "Refused", S.Failed, NoOp),
        ("Failed(no instance, created)", "CreateSucceeded", S.Failed, Delete), // a late create: released, never kept
        ("Failed(no instance, created)", "CreateFailed", S.Failed, NoOp),
        ("Failed(no instance, created)", "CreateNotSent", S.Failed, NoOp),
        ("Failed(no instance, created)", "InstanceFound", S.Failed, NoOp),
        ("Failed(no instance, created)", "InstanceMissing", S.Failed, NoOp),
        ("Failed(no instance, created)", "LookupFailed", S.Failed, NoOp),
        ("Failed(no instance, created)", "InstanceObserved(eci-1)", S.Failed, Delete), // the timed-out create's instance: adopted for release
        ("Failed(no instance, created)", "InstanceObserved(eci-2)", S.Failed, Delete),
        ("Failed(no instance, created)", "DeletionRequested", S.Deleting, Lookup), // the create may have made one: look before forgetting
        ("Failed(no instance, created)", "DeleteSucceeded(eci-1)", S.Failed, NoOp),
        ("Failed(no instance, created)", "DeleteFailed(eci-1)", S.Failed, NoOp),
        ("Failed(no instance, created)", "DeleteFailed(NotFound, eci-1)", S.Failed, NoOp),
        ("Failed(no instance, created)", "DeleteSucceeded(eci-2)", S.Failed, NoOp),
        ("Failed(no instance, created)", "DeleteFailed(eci-2)", S.Failed, NoOp),
        ("Failed(no instance, created)", "DeleteFailed(NotFound, eci-2)", S.Failed, NoOp),
        ("Failed(no instance, created)", "TimerElapsed", S.Failed, NoOp),
        ("Failed(no instance, created)", "Reactivated", S.Failed, NoOp),

        // ── Failed, its own (terminal) instance kept ────────────────────────────────────────
        ("Failed(instance)", "Admitted", S.Failed, NoOp),
        ("Failed(instance)", "Refused", S.Failed, NoOp),
        ("Failed(instance)", "CreateSucceeded", S.Failed, NoOp),
        ("Failed(instance)", "CreateFailed", S.Failed, NoOp),
        ("Failed(instance)", "CreateNotSent", S.Failed, NoOp),
        ("Failed(instance)", "InstanceFound", S.Failed, NoOp),
        ("Failed(instance)", "InstanceMissing", S.Failed, NoOp),
        ("Failed(instance)", "LookupFailed", S.Failed, NoOp),
        ("Failed(instance)", "InstanceObserved(eci-1)", S.Failed, NoOp),
        ("Failed(instance)", "InstanceObserved(eci-2)", S.Failed, Delete),
        ("Failed(instance)", "DeletionRequested", S.Deleting, Delete),
        ("Failed(instance)", "DeleteSucceeded(eci-1)", S.Failed, NoOp),
        ("Failed(instance)", "DeleteFailed(eci-1)", S.Failed, NoOp),
        ("Failed(instance)", "DeleteFailed(NotFound, eci-1)", S.Failed, NoOp),
        ("Failed(instance)", "DeleteSucceeded(eci-2)", S.Failed, NoOp),
        ("Failed(instance)", "DeleteFailed(eci-2)", S.Failed, NoOp),
        ("Failed(instance)", "DeleteFailed(NotFound, eci-2)", S.Failed, NoOp),
        ("Failed(instance)", "TimerElapsed", S.Failed, NoOp),
        ("Failed(instance)", "Reactivated", S.Failed, NoOp),

        // ── Failed, releasing eci-1 (a release retry is due) ────────────────────────────────
        ("Failed(releasing)", "Admitted", S.Failed, NoOp),
        ("Failed(releasing)", "Refused", S.Failed, NoOp),
        ("Failed(releasing)", "CreateSucceeded", S.Failed, NoOp),
        ("Failed(releasing)", "CreateFailed", S.Failed, NoOp),
        ("Failed(releasing)", "CreateNotSent", S.Failed, NoOp),
        ("Failed(releasing)", "InstanceFound", S.Failed, NoOp),
        ("Failed(releasing)", "InstanceMissing", S.Failed, NoOp),
        ("Failed(releasing)", "LookupFailed", S.Failed, NoOp),
        ("Failed(releasing)", "InstanceObserved(eci-1)", S.Failed, NoOp),
        ("Failed(releasing)", "InstanceObserved(eci-2)", S.Failed, Delete),
        ("Failed(releasing)", "DeletionRequested", S.Deleting, Delete),
        ("Failed(releasing)", "DeleteSucceeded(eci-1)", S.Failed, None),
        ("Failed(releasing)", "DeleteFailed(eci-1)", S.Failed, Timer),
        ("Failed(releasing)", "DeleteFailed(NotFound, eci-1)", S.Failed, None),
        ("Failed(releasing)", "DeleteSucceeded(eci-2)", S.Failed, NoOp), // another instance's outcome: eci-1 is still being released
        ("Failed(releasing)", "DeleteFailed(eci-2)", S.Failed, NoOp),
        ("Failed(releasing)", "DeleteFailed(NotFound, eci-2)", S.Failed, NoOp),
        ("Failed(releasing)", "TimerElapsed", S.Failed, Delete),
        ("Failed(releasing)", "Reactivated", S.Failed, Delete),

        // ── Deleting, instance not known yet (create in flight) ─────────────────────────────
        ("Deleting(no instance)", "Admitted", S.Deleting, NoOp),
        ("Deleting(no instance)", "Refused", S.Deleting, NoOp),
        ("Deleting(no instance)", "CreateSucceeded", S.Deleting, Delete),
        ("Deleting(no instance)", "CreateFailed", S.Deleting, Lookup), // a failed create may still have made one
        ("Deleting(no instance)", "CreateNotSent", S.Deleting, Lookup),
        ("Deleting(no instance)", "InstanceFound", S.Deleting, Delete),
        ("Deleting(no instance)", "InstanceMissing", S.Deleted, Gone),
        ("Deleting(no instance)", "LookupFailed", S.Deleting, Timer),
        ("Deleting(no instance)", "InstanceObserved(eci-1)", S.Deleting, Delete),
        ("Deleting(no instance)", "InstanceObserved(eci-2)", S.Deleting, Delete),
        ("Deleting(no instance)", "DeletionRequested", S.Deleting, NoOp),
        ("Deleting(no instance)", "DeleteSucceeded(eci-1)", S.Deleting, NoOp),
        ("Deleting(no instance)", "DeleteFailed(eci-1)", S.Deleting, NoOp),
        ("Deleting(no instance)", "DeleteFailed(NotFound, eci-1)", S.Deleting, NoOp),
        ("Deleting(no instance)", "DeleteSucceeded(eci-2)", S.Deleting, NoOp),
        ("Deleting(no instance)", "DeleteFailed(eci-2)", S.Deleting, NoOp),
        ("Deleting(no instance)", "DeleteFailed(NotFound, eci-2)", S.Deleting, NoOp),
        ("Deleting(no instance)", "TimerElapsed", S.Deleting, NoOp),
        ("Deleting(no instance)", "Reactivated", S.Deleting, Lookup),

        // ── Deleting eci-1, a delete retry due ──────────────────────────────────────────────
        ("Deleting(instance)", "Admitted", S.Deleting, NoOp),
        ("Deleting(instance)", "Refused", S.Deleting, NoOp),
        ("Deleting(instance)", "CreateSucceeded", S.Deleting, NoOp),
        ("Deleting(instance)", "CreateFailed", S.Deleting, NoOp),
        ("Deleting(instance)", "CreateNotSent", S.Deleting, NoOp),
        ("Deleting(instance)", "InstanceFound", S.Deleting, NoOp),
        ("Deleting(instance)", "InstanceMissing", S.Deleting, NoOp),
        ("Deleting(instance)", "LookupFailed", S.Deleting, NoOp),
        ("Deleting(instance)", "InstanceObserved(eci-1)", S.Deleting, NoOp),
        ("Deleting(instance)", "InstanceObserved(eci-2)", S.Deleting, Delete), // a live stranger must not outlive the pod
        ("Deleting(instance)", "DeletionRequested", S.Deleting, NoOp),
        ("Deleting(instance)", "DeleteSucceeded(eci-1)", S.Deleted, Gone),
        ("Deleting(instance)", "DeleteFailed(eci-1)", S.Deleting, Timer),
        ("Deleting(instance)", "DeleteFailed(NotFound, eci-1)", S.Deleted, Gone),
        ("Deleting(instance)", "DeleteSucceeded(eci-2)", S.Deleting, NoOp), // another instance's outcome: eci-1 still exists, not gone
        ("Deleting(instance)", "DeleteFailed(eci-2)", S.Deleting, NoOp), // not eci-1's failure: no retry of eci-1
        ("Deleting(instance)", "DeleteFailed(NotFound, eci-2)", S.Deleting, NoOp),
        ("Deleting(instance)", "TimerElapsed", S.Deleting, Delete),
        ("Deleting(instance)", "Reactivated", S.Deleting, Delete),

        // ── Deleted: nothing moves it ───────────────────────────────────────────────────────
        ("Deleted", "Admitted", S.Deleted, NoOp),
        ("Deleted", "Refused", S.Deleted, NoOp),
        ("Deleted", "CreateSucceeded", S.Deleted, NoOp),
        ("Deleted", "CreateFailed", S.Deleted, NoOp),
        ("Deleted", "CreateNotSent", S.Deleted, NoOp),
        ("Deleted", "InstanceFound", S.Deleted, NoOp),
        ("Deleted", "InstanceMissing", S.Deleted, NoOp),
        ("Deleted", "LookupFailed", S.Deleted, NoOp),
        ("Deleted", "InstanceObserved(eci-1)", S.Deleted, NoOp),
        ("Deleted", "InstanceObserved(eci-2)", S.Deleted, NoOp),
        ("Deleted", "DeletionRequested", S.Deleted, NoOp),
        ("Deleted", "DeleteSucceeded(eci-1)", S.Deleted, NoOp),
        ("Deleted", "DeleteFailed(eci-1)", S.Deleted, NoOp),
        ("Deleted", "DeleteFailed(NotFound, eci-1)", S.Deleted, NoOp),
        ("Deleted", "DeleteSucceeded(eci-2)", S.Deleted, NoOp),
        ("Deleted", "DeleteFailed(eci-2)", S.Deleted, NoOp),
        ("Deleted", "DeleteFailed(NotFound, eci-2)", S.Deleted, NoOp),
        ("Deleted", "TimerElapsed", S.Deleted, NoOp),
        ("Deleted", "Reactivated", S.Deleted, NoOp),
    ];

    public static TheoryData<string, string, PodStage, string> Pairs()
    {
        var data = new TheoryData<string, string, PodStage, string>();
        foreach (var (state, e, stage, effects) in Table)
        {
            data.Add(state, e, stage, effects);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Transition_matches_the_table(string state, string e, PodStage expectedStage, string expectedEffects)
    {
        var before = States[state];
        var result = PodStateMachine.Apply(before, Events[e], Context(T0));

        if (expectedEffects == NoOp)
        {
            Assert.True(before.Stage == expectedStage, "a no-op row names the stage it starts from");
            Assert.Equal(before, result.State);
            Assert.Empty(result.Effects);
            Assert.Null(result.ErrorCode);
            return;
        }

        Assert.Equal(expectedStage, result.State.Stage);
        Assert.Equal(expectedEffects, EffectNames(result.Effects));
        Assert.False(result.State.Equals(before) && result.Effects.Count == 0, "a row that is not a no-op must change something");
        AssertWellFormed(result);
    }

    /// <summary>Invariants every outcome of the table must keep, whatever the pair.</summary>
    private static void AssertWellFormed(PodTransitionResult result)
    {
        var s = result.State;
        foreach (var effect in result.Effects)
        {
            switch (effect)
            {
                case ScheduleTimer timer:
                    Assert.True(timer.At > T0, "a timer is scheduled in the future");
                    Assert.True(timer.At <= T0 + RetryPolicy.Default.MaxDelay, "a timer never waits longer than the cap");
                    break;
                case DeleteInstance delete:
                    Assert.False(string.IsNullOrEmpty(delete.InstanceId));
                    break;
                case CreateInstance create:
                    Assert.Equal(PodStage.Creating, s.Stage);
                    Assert.Equal(s.Attempts, create.Attempt);
                    Assert.Null(s.InstanceId);
                    break;
                case ReportGone:
                    Assert.Equal(PodStage.Deleted, s.Stage);
                    Assert.Null(s.InstanceId);
                    Assert.False(s.Releasing);
                    break;
            }
        }

        if (s.Stage is PodStage.Scheduling or PodStage.Pending or PodStage.Running or PodStage.Restarting
            or PodStage.Updating or PodStage.Terminating)
        {
            Assert.NotNull(s.InstanceId);
        }

        if (s.Stage == PodStage.Running)
        {
            Assert.NotNull(s.RunningAt);
        }
    }

    /// <summary>
    /// The Delete of every "InstanceObserved(eci-2)" row names eci-2. A pod that has an instance leaves its state as it
    /// was and reports the duplicate; a failed pod with none adopts eci-2 for release (a timed-out create's instance).
    /// A terminal eci-2 is left alone (except by a deleting pod still looking for its instance, which deletes what it finds).
    /// </summary>
    [Fact]
    public void A_live_instance_that_is_not_the_pods_own_is_deleted_wherever_the_table_says_so()
    {
        var rows = Table.Where(r => r.Event == "InstanceObserved(eci-2)" && r.Effects == Delete).ToList();
        Assert.Equal(
            ["Scheduling", "Pending", "Running", "Restarting", "Updating", "Terminating", "Succeeded",
             "Failed(no instance, refused)", "Failed(no instance, created)", "Failed(instance)", "Failed(releasing)",
             "Deleting(no instance)", "Deleting(instance)"],
            rows.Select(r => r.State));

        foreach (var row in rows)
        {
            var before = States[row.State];
            var result = PodStateMachine.Apply(before, Events[row.Event], Context(T0));
            Assert.Equal(new PodEffect[] { new DeleteInstance("eci-2") }, result.Effects);

            if (before.Stage == PodStage.Deleting && before.InstanceId is null)
            {
                // Waiting to learn which instance to delete: this is it.
                Assert.Equal("eci-2", result.State.InstanceId);
                Assert.Null(result.ErrorCode);
            }
            else if (before.InstanceId is null)
            {
                Assert.Equal(before with { InstanceId = "eci-2", Releasing = true }, result.State);
                Assert.Null(result.ErrorCode);
            }
            else
            {
                Assert.Equal(before, result.State);
                Assert.Equal("DuplicateInstance", result.ErrorCode);
            }

            if (before.Stage != PodStage.Deleting || before.InstanceId is not null)
            {
                var terminal = PodStateMachine.Apply(before, Observed("eci-2", ContainerGroupStatus.Failed), Context(T0));
                Assert.Equal(before, terminal.State);
                Assert.Empty(terminal.Effects);
                Assert.Null(terminal.ErrorCode);
            }
        }
    }

    [Fact]
    public void Table_covers_every_stage_with_every_event_type()
    {
        var eventTypes = typeof(PodEvent).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && t.IsSubclassOf(typeof(PodEvent)))
            .ToHashSet();
        var stages = Enum.GetValues<PodStage>();

        Assert.Equal(14, eventTypes.Count); // a new event must get rows in the table, then this count moves
        Assert.Equal(14, stages.Length);    // likewise for a new stage

        var covered = Table.Select(r => (States[r.State].Stage, Events[r.Event].GetType())).ToHashSet();
        var missing = (from stage in stages
                       from type in eventTypes
                       where !covered.Contains((stage, type))
                       select $"{stage} × {type.Name}").ToList();
        Assert.True(missing.Count == 0, "pairs without a row: " + string.Join(", ", missing));
    }

    [Fact]
    public void Table_has_one_row_for_each_representative_state_and_event()
    {
        Assert.Equal(Table.Length, Table.Select(r => (r.State, r.Event)).Distinct().Count());
        Assert.All(Table, r =>
        {
            Assert.True(States.ContainsKey(r.State), r.State);
            Assert.True(Events.ContainsKey(r.Event), r.Event);
        });
        Assert.Equal(States.Count * Events.Count, Table.Length);
    }

    [Fact]
    public void Representative_states_are_what_their_names_say()
    {
        Assert.All(States, kv => Assert.StartsWith(kv.Value.Stage.ToString(), kv.Key));
        Assert.True(States["BackingOff(due)"].RetryAt < T0);
        Assert.True(States["BackingOff(not due)"].RetryAt > T0);
        Assert.Null(States["Deleting(no instance)"].InstanceId);
        Assert.Equal("eci-1", States["Deleting(instance)"].InstanceId);
        Assert.Null(States["Failed(no instance, refused)"].InstanceId);
        Assert.Equal(0, States["Failed(no instance, refused)"].Attempts);
        Assert.Null(States["Failed(no instance, created)"].InstanceId);
        Assert.True(States["Failed(no instance, created)"].Attempts > 0);
        Assert.True(States["Failed(releasing)"].Releasing);
        Assert.False(States["Failed(instance)"].Releasing);
        Assert.All(States.Values.Where(s => s.AcceptedAt is not null), s => Assert.True(T0 < s.PendingDeadline, "no representative is past its deadline"));
        Assert.All(States.Values.Where(s => s.InstanceId is not null), s => Assert.Equal("eci-1", s.InstanceId));
    }
}
