using VNodeMesh.Grains.Lifecycle;
using static VNodeMesh.Tests.Lifecycle.LifecycleTestKit;
using CG = VNodeMesh.Contracts.Lifecycle.ContainerGroupStatus;

namespace VNodeMesh.Tests.Lifecycle;

/// <summary>Full paths through the pod lifecycle (DESIGN.md: Lifecycle, Durability).</summary>
public sealed class PodStateMachineScenarioTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    // ── The happy path ──────────────────────────────────────────────────────────────────────

    [Fact]
    public void Admitted_pod_is_created_scheduled_run_and_succeeds()
    {
        var pod = new PodDriver();

        var r = pod.Send(new Admitted(PodSettings.Default));
        Assert.Equal(PodStage.Creating, r.State.Stage);
        Assert.Equal(T0, r.State.AcceptedAt);
        Assert.Equal(PodSettings.Default, r.State.Settings);
        Assert.Equal(1, r.State.Attempts);
        Assert.Equal(new PodEffect[] { new CreateInstance(null, 1) }, r.Effects);
        Assert.Equal(PodPhase.Pending, r.State.Stage.ToPodPhase());
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));

        r = pod.Advance(2 * Second).Send(Created("eci-1"));
        Assert.Equal(PodStage.Scheduling, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Empty(r.Effects);
        Assert.Null(r.State.RunningAt);
        Assert.Equal(PodPhase.Pending, r.State.Stage.ToPodPhase());

        r = pod.Advance(5 * Second).Send(Observed("eci-1", CG.Pending));
        Assert.Equal(PodStage.Pending, r.State.Stage);
        Assert.Empty(r.Effects);
        Assert.Null(r.State.RunningAt);

        var runningAt = pod.Advance(30 * Second).Now;
        r = pod.Send(Observed("eci-1", CG.Running, changedAt: runningAt.AddSeconds(-1)));
        Assert.Equal(PodStage.Running, r.State.Stage);
        Assert.Equal(runningAt, r.State.RunningAt);
        Assert.Empty(r.Effects);
        Assert.Equal(PodPhase.Running, r.State.Stage.ToPodPhase());
        Assert.False(PodStateMachine.NeedsWatchdog(r.State));

        // Seeing it running again does not move RunningAt.
        r = pod.Advance(60 * Second).Send(Observed("eci-1", CG.Running));
        Assert.Equal(runningAt, r.State.RunningAt);

        r = pod.Advance(60 * Second).Send(Observed("eci-1", CG.Succeeded, reason: "Completed", message: "all containers exited 0"));
        Assert.Equal(PodStage.Succeeded, r.State.Stage);
        Assert.Equal("Completed", r.State.Reason);
        Assert.Equal("all containers exited 0", r.State.Message);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Empty(r.Effects);
        Assert.Equal(PodPhase.Succeeded, r.State.Stage.ToPodPhase());
        Assert.False(PodStateMachine.NeedsWatchdog(r.State));

        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    [Fact]
    public void Refused_pod_fails_with_the_reason_and_is_never_created()
    {
        var pod = new PodDriver();
        var r = pod.Send(new Refused("Unsupported", "spec.hostNetwork is not supported"));
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal("Unsupported", r.State.Reason);
        Assert.Equal("spec.hostNetwork is not supported", r.State.Message);
        Assert.Equal(T0, r.State.AcceptedAt);
        Assert.Empty(r.Effects);

        // A later admission (a resync) does not revive it.
        r = pod.Send(new Admitted(PodSettings.Default));
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Empty(r.Effects);

        r = pod.Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
        Assert.DoesNotContain(pod.AllEffects, e => e is CreateInstance);
    }

    [Fact]
    public void A_second_admission_does_not_create_again()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(PodSettings.Default));
        var r = pod.Advance(Second).Send(new Admitted(PodSettings.Default));
        Assert.Empty(r.Effects);
        Assert.Equal(T0, r.State.AcceptedAt);
        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    // ── Instance statuses ───────────────────────────────────────────────────────────────────

    [Theory]
    [InlineData(PodStage.Running, CG.Failed, "OOMKilled", "OOMKilled", PodStage.Failed)]
    [InlineData(PodStage.Running, CG.Failed, null, "Failed", PodStage.Failed)]
    [InlineData(PodStage.Running, CG.Expired, "SomethingElse", "Expired", PodStage.Failed)]
    [InlineData(PodStage.Pending, CG.Expired, null, "Expired", PodStage.Failed)]
    [InlineData(PodStage.Scheduling, CG.ScheduleFailed, "NoResource", "ScheduleFailed", PodStage.Failed)]
    [InlineData(PodStage.Scheduling, CG.ScheduleFailed, null, "ScheduleFailed", PodStage.Failed)]
    [InlineData(PodStage.Running, CG.Succeeded, null, "Succeeded", PodStage.Succeeded)]
    public void Terminal_instance_status_ends_the_pod_with_its_reason_kept(
        PodStage from, ContainerGroupStatus status, string? instanceReason, string expectedReason, PodStage expectedStage)
    {
        var s = Accepted(from) with { InstanceId = "eci-1", RunningAt = from == PodStage.Running ? T0.AddMinutes(-1) : null };

        var r = Apply(s, Observed("eci-1", status, reason: instanceReason, message: "the instance says why"), T0);

        Assert.Equal(expectedStage, r.State.Stage);
        Assert.Equal(expectedReason, r.State.Reason);
        Assert.Equal("the instance says why", r.State.Message);
        Assert.Equal("eci-1", r.State.InstanceId); // kept until the pod is deleted
        Assert.False(r.State.Releasing);
        Assert.Empty(r.Effects);
        Assert.Equal(expectedStage == PodStage.Failed ? PodPhase.Failed : PodPhase.Succeeded, r.State.Stage.ToPodPhase());
        Assert.Equal(status.ToPodPhase(), r.State.Stage.ToPodPhase());
        Assert.False(PodStateMachine.NeedsWatchdog(r.State));
    }

    [Theory]
    [InlineData(CG.Restarting, PodStage.Restarting, PodPhase.Pending)]
    [InlineData(CG.Updating, PodStage.Updating, PodPhase.Pending)]
    [InlineData(CG.Terminating, PodStage.Terminating, PodPhase.Running)]
    [InlineData(CG.Scheduling, PodStage.Scheduling, PodPhase.Pending)]
    [InlineData(CG.Pending, PodStage.Pending, PodPhase.Pending)]
    public void Non_terminal_instance_statuses_map_to_their_stage(ContainerGroupStatus status, PodStage stage, PodPhase phase)
    {
        var running = Accepted(PodStage.Running) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-3) };

        var r = Apply(running, Observed("eci-1", status), T0);
        Assert.Equal(stage, r.State.Stage);
        Assert.Equal(phase, r.State.Stage.ToPodPhase());
        Assert.Equal(status.ToPodPhase(), r.State.Stage.ToPodPhase());
        Assert.Equal(T0.AddMinutes(-3), r.State.RunningAt);
        Assert.Empty(r.Effects);

        var back = Apply(r.State, Observed("eci-1", CG.Running), T0.AddMinutes(1));
        Assert.Equal(PodStage.Running, back.State.Stage);
        Assert.Equal(T0.AddMinutes(-3), back.State.RunningAt); // the first time it ran
    }

    [Fact]
    public void Instance_observed_while_creating_is_adopted_with_its_status()
    {
        var r = Apply(Accepted(PodStage.Creating), Observed("eci-1", CG.Running, changedAt: T0.AddSeconds(-3)), T0);
        Assert.Equal(PodStage.Running, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Equal(T0, r.State.RunningAt);
        Assert.Empty(r.Effects);
    }

    /// <summary>RunningAt is when VNodeMesh saw the pod running (the context's now), on every path; never the instance's own timestamp.</summary>
    [Theory]
    [InlineData(PodStage.Creating, false)]
    [InlineData(PodStage.BackingOff, false)]
    [InlineData(PodStage.Recovering, false)]
    [InlineData(PodStage.Recovering, true)]
    public void A_running_instance_adopted_before_the_pod_ran_is_running_from_now(PodStage stage, bool byLookup)
    {
        var now = T0.AddSeconds(7);
        var s = Accepted(stage) with { Failures = 1, RetryAt = T0.AddSeconds(30), Reason = "UnknownError" };
        var instance = Instance("eci-1", CG.Running, changedAt: T0.AddMinutes(-2));
        PodEvent e = byLookup ? new InstanceFound(instance) : new InstanceObserved(instance);

        var r = Apply(s, e, now);
        Assert.Equal(PodStage.Running, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Equal(now, r.State.RunningAt);
        Assert.Null(r.State.RetryAt);
        Assert.Equal(0, r.State.Failures);
        Assert.Null(r.State.Reason);
        Assert.Empty(r.Effects);

        // Adopted but not running yet: no RunningAt until it is seen running.
        var pending = Apply(s, byLookup ? new InstanceFound(Instance("eci-1", CG.Pending)) : Observed("eci-1", CG.Pending), now);
        Assert.Equal(PodStage.Pending, pending.State.Stage);
        Assert.Null(pending.State.RunningAt);
        var running = Apply(pending.State, Observed("eci-1", CG.Running, changedAt: T0.AddMinutes(-1)), now.AddSeconds(5));
        Assert.Equal(now.AddSeconds(5), running.State.RunningAt);
    }

    // ── Fail-back (default) ─────────────────────────────────────────────────────────────────

    [Theory]
    [InlineData(ProviderErrorKind.Transient, "UnknownError", FailStrategy.FailBack)]
    [InlineData(ProviderErrorKind.NoStock, "NoStock", FailStrategy.FailBack)]
    [InlineData(ProviderErrorKind.QuotaExceeded, "QuotaExceeded", FailStrategy.FailBack)]
    [InlineData(ProviderErrorKind.Transient, "UnknownError", FailStrategy.FailOver)]
    [InlineData(ProviderErrorKind.NoStock, "NoStock", FailStrategy.FailOver)]
    [InlineData(ProviderErrorKind.QuotaExceeded, "QuotaExceeded", FailStrategy.FailOver)]
    public void Retryable_create_failure_backs_off_then_creates_again(ProviderErrorKind kind, string reason, FailStrategy strategy)
    {
        const double jitter = 0.7;
        var pod = new PodDriver(jitter: jitter);
        pod.Send(new Admitted(Settings(strategy)));

        var error = Error(kind);
        var r = pod.Advance(Second).Send(new CreateFailed(error));
        var failedAt = pod.Now;
        Assert.Equal(PodStage.BackingOff, r.State.Stage);
        Assert.Equal(1, r.State.Failures);
        Assert.Equal(failedAt + RetryPolicy.Default.Delay(1, jitter), r.State.RetryAt);
        Assert.True(r.State.RetryAt <= failedAt + RetryPolicy.Default.MaxDelay);
        Assert.True(r.State.RetryAt > failedAt);
        Assert.Equal(reason, r.State.Reason);
        Assert.Contains(error.Code, r.State.Message);
        Assert.Equal(error.Code, r.ErrorCode);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));
        var retryAt = r.State.RetryAt.Value;

        // Too early (e.g. the watchdog): re-armed, nothing else.
        pod.Now = retryAt - TimeSpan.FromMilliseconds(100);
        var early = pod.Send(new TimerElapsed());
        Assert.Equal(r.State, early.State);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(retryAt) }, early.Effects);

        // Due: created again, one attempt more.
        pod.Now = retryAt;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(PodStage.Creating, r.State.Stage);
        Assert.Equal(2, r.State.Attempts);
        Assert.Null(r.State.RetryAt);
        Assert.Equal(new PodEffect[] { new CreateInstance(null, 2) }, r.Effects);

        // A second failure waits on the second step of the backoff.
        r = pod.Advance(Second).Send(new CreateFailed(error));
        Assert.Equal(PodStage.BackingOff, r.State.Stage);
        Assert.Equal(2, r.State.Failures);
        Assert.Equal(pod.Now + RetryPolicy.Default.Delay(2, jitter), r.State.RetryAt);

        // And a success clears the reason and the backoff.
        r = pod.Advance(Second).Send(Created("eci-1"));
        Assert.Equal(PodStage.Scheduling, r.State.Stage);
        Assert.Null(r.State.Reason);
        Assert.Null(r.State.RetryAt);
        Assert.Equal(0, r.State.Failures);
    }

    [Fact]
    public void Repeated_failures_back_off_exponentially_up_to_the_cap()
    {
        const double jitter = 0.999;
        var pod = new PodDriver(jitter: jitter);
        pod.Send(new Admitted(PodSettings.Default));
        var previous = TimeSpan.Zero;
        for (var n = 1; n <= 12; n++)
        {
            var r = pod.Advance(Second).Send(new CreateFailed(Error(ProviderErrorKind.Transient)));
            Assert.Equal(PodStage.BackingOff, r.State.Stage);
            var delay = r.State.RetryAt!.Value - pod.Now;
            Assert.True(delay <= RetryPolicy.Default.MaxDelay, $"failure {n}: {delay} is above the cap");
            Assert.True(delay >= previous, $"failure {n}: {delay} is shorter than {previous}");
            previous = delay;

            pod.Now = r.State.RetryAt.Value;
            Assert.Equal(PodStage.Creating, pod.Send(new TimerElapsed()).State.Stage);
        }

        Assert.True(previous > RetryPolicy.Default.MaxDelay * 0.99, "after 12 failures the delay reaches the cap");
        Assert.Equal(13, pod.State.Attempts);
    }

    [Theory]
    [InlineData(FailStrategy.FailBack)]
    [InlineData(FailStrategy.FailOver)]
    [InlineData(FailStrategy.FailFast)]
    public void Throttling_is_retried_under_every_strategy_no_sooner_than_retry_after(FailStrategy strategy)
    {
        var retryAfter = TimeSpan.FromSeconds(5);
        foreach (var jitter in new[] { 0.0, 0.3, 0.999 })
        {
            var pod = new PodDriver(jitter: jitter);
            pod.Send(new Admitted(Settings(strategy)));

            var r = pod.Send(new CreateFailed(Error(ProviderErrorKind.Throttled, retryAfter)));

            Assert.Equal(PodStage.BackingOff, r.State.Stage);
            Assert.Equal("Throttling", r.State.Reason);
            Assert.True(r.State.RetryAt >= T0 + retryAfter, $"jitter {jitter}: retried at {r.State.RetryAt}, before retry-after");
            Assert.Equal(T0 + RetryPolicy.Default.Delay(1, jitter, retryAfter), r.State.RetryAt);
            Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);
        }
    }

    // ── Fail-fast ───────────────────────────────────────────────────────────────────────────

    [Theory]
    [InlineData(ProviderErrorKind.Transient)]
    [InlineData(ProviderErrorKind.NoStock)]
    [InlineData(ProviderErrorKind.QuotaExceeded)]
    [InlineData(ProviderErrorKind.NotFound)]
    public void Fail_fast_fails_the_pod_on_its_first_creation_failure(ProviderErrorKind kind)
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(FailStrategy.FailFast)));

        var error = Error(kind);
        var r = pod.Advance(Second).Send(new CreateFailed(error));

        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonProviderFailed, r.State.Reason);
        Assert.Contains(error.Code, r.State.Message);
        Assert.Equal(error.Code, r.ErrorCode);
        Assert.Null(r.State.RetryAt);
        Assert.Null(r.State.InstanceId);
        Assert.False(r.State.Releasing);
        Assert.Empty(r.Effects);
        Assert.False(PodStateMachine.NeedsWatchdog(r.State));
        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    [Theory]
    [InlineData(ProviderErrorKind.InvalidSpec, FailStrategy.FailBack)]
    [InlineData(ProviderErrorKind.InvalidSpec, FailStrategy.FailOver)]
    [InlineData(ProviderErrorKind.InvalidSpec, FailStrategy.FailFast)]
    [InlineData(ProviderErrorKind.Permanent, FailStrategy.FailBack)]
    [InlineData(ProviderErrorKind.Permanent, FailStrategy.FailOver)]
    [InlineData(ProviderErrorKind.Permanent, FailStrategy.FailFast)]
    public void Invalid_spec_and_permanent_errors_fail_without_retry(ProviderErrorKind kind, FailStrategy strategy)
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(strategy, null, "2-4Gi", "4-8Gi")));

        var error = Error(kind);
        var r = pod.Send(new CreateFailed(error));

        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonProviderFailed, r.State.Reason);
        Assert.Contains(error.Code, r.State.Message);
        Assert.Equal(error.Code, r.ErrorCode);
        Assert.Empty(r.Effects); // no timer, no next spec
        Assert.Null(r.State.RetryAt);

        // Nothing brings it back.
        Assert.Empty(pod.Advance(TimeSpan.FromMinutes(5)).Send(new TimerElapsed()).Effects);
        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    // ── eci-use-specs ───────────────────────────────────────────────────────────────────────

    [Fact]
    public void No_stock_moves_to_the_next_spec_at_once_then_backs_off_and_restarts_from_the_first()
    {
        var settings = Settings(FailStrategy.FailBack, null, "2-4Gi", "4-8Gi", "ecs.c6.xlarge");
        var specs = settings.Specs;
        Assert.Equal(3, specs.Count);
        Assert.Equal("ecs.c6.xlarge", specs[2].InstanceType);

        var pod = new PodDriver();
        var r = pod.Send(new Admitted(settings));
        Assert.Equal(new PodEffect[] { new CreateInstance(specs[0], 1) }, r.Effects);

        var noStock = new CreateFailed(Error(ProviderErrorKind.NoStock));
        r = pod.Advance(Second).Send(noStock);
        Assert.Equal(PodStage.Creating, r.State.Stage);
        Assert.Equal(1, r.State.SpecIndex);
        Assert.Equal("NoStock", r.State.Reason);
        Assert.Null(r.State.RetryAt);
        Assert.Equal(new PodEffect[] { new CreateInstance(specs[1], 2) }, r.Effects);

        r = pod.Advance(Second).Send(noStock);
        Assert.Equal(2, r.State.SpecIndex);
        Assert.Equal(new PodEffect[] { new CreateInstance(specs[2], 3) }, r.Effects);

        // The last spec has no stock either: fail-back backs off, starting over from the first spec.
        r = pod.Advance(Second).Send(noStock);
        Assert.Equal(PodStage.BackingOff, r.State.Stage);
        Assert.Equal(0, r.State.SpecIndex);
        Assert.Equal("NoStock", r.State.Reason);
        Assert.Equal(1, r.State.Failures);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);

        pod.Now = r.State.RetryAt.Value;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(new PodEffect[] { new CreateInstance(specs[0], 4) }, r.Effects);

        r = pod.Advance(Second).Send(Created("eci-1"));
        Assert.Equal(PodStage.Scheduling, r.State.Stage);
        Assert.Null(r.State.Reason);
    }

    [Fact]
    public void A_transient_failure_on_a_later_spec_backs_off_and_retries_from_the_first_spec()
    {
        var settings = Settings(FailStrategy.FailBack, null, "2-4Gi", "4-8Gi");
        var pod = new PodDriver();
        pod.Send(new Admitted(settings));
        pod.Send(new CreateFailed(Error(ProviderErrorKind.NoStock)));
        Assert.Equal(1, pod.State.SpecIndex);

        var r = pod.Send(new CreateFailed(Error(ProviderErrorKind.Transient)));
        Assert.Equal(PodStage.BackingOff, r.State.Stage);
        Assert.Equal("UnknownError", r.State.Reason);

        pod.Now = r.State.RetryAt!.Value;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(new PodEffect[] { new CreateInstance(settings.Specs[0], 3) }, r.Effects);
    }

    [Fact]
    public void Fail_fast_fails_when_the_last_spec_has_no_stock()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(FailStrategy.FailFast, null, "2-4Gi", "4-8Gi")));
        pod.Send(new CreateFailed(Error(ProviderErrorKind.NoStock)));
        var r = pod.Send(new CreateFailed(Error(ProviderErrorKind.NoStock)));
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonProviderFailed, r.State.Reason);
        Assert.Empty(r.Effects);
    }

    // ── eci-max-pending-minute ──────────────────────────────────────────────────────────────

    [Fact]
    public void Backing_off_pod_past_its_deadline_fails_with_max_pending_exceeded()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(FailStrategy.FailBack, TimeSpan.FromMinutes(5))));
        var r = pod.Advance(Second).Send(new CreateFailed(Error(ProviderErrorKind.NoStock)));
        Assert.Equal(PodStage.BackingOff, r.State.Stage);

        pod.Now = T0.AddMinutes(5);
        r = pod.Send(new TimerElapsed());

        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, r.State.Reason);
        Assert.Contains("5 minutes", r.State.Message);
        Assert.Contains("NoStock", r.State.Message); // the last reason is kept in the message
        Assert.Empty(r.Effects);                     // there is no instance to release
        Assert.False(r.State.Releasing);
        Assert.Null(r.State.RetryAt);
        Assert.False(PodStateMachine.NeedsWatchdog(r.State));
    }

    /// <summary>
    /// The deadline is checked before the retry time: a pod whose next retry falls after its deadline fails at the
    /// first timer past the deadline (the watchdog's), not only when its retry comes.
    /// </summary>
    [Fact]
    public void Backing_off_pod_fails_at_its_deadline_even_when_its_retry_is_later()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(FailStrategy.FailBack, TimeSpan.FromMinutes(1))));
        var r = pod.Advance(50 * Second).Send(new CreateFailed(Error(ProviderErrorKind.Throttled, TimeSpan.FromSeconds(30))));
        Assert.Equal(PodStage.BackingOff, r.State.Stage);
        var retryAt = r.State.RetryAt!.Value;
        var deadline = r.State.PendingDeadline!.Value;
        Assert.Equal(T0.AddMinutes(1), deadline);
        Assert.True(retryAt > deadline, "the retry is after the deadline");

        // Before the deadline the timer is re-armed for the retry.
        pod.Now = deadline - Second;
        var early = pod.Send(new TimerElapsed());
        Assert.Equal(r.State, early.State);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(retryAt) }, early.Effects);

        // At the deadline the pod fails, though its retry is not due.
        pod.Now = deadline;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, r.State.Reason);
        Assert.Contains("Throttling", r.State.Message);
        Assert.Null(r.State.RetryAt);
        Assert.Equal(0, r.State.Failures);
        Assert.Empty(r.Effects);
        Assert.False(PodStateMachine.NeedsWatchdog(r.State));
        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    [Fact]
    public void Create_failure_after_the_deadline_fails_with_max_pending_exceeded()
    {
        var s = Accepted(PodStage.Creating, Settings(FailStrategy.FailBack, TimeSpan.FromMinutes(5)));
        var r = Apply(s, new CreateFailed(Error(ProviderErrorKind.Transient)), s.AcceptedAt!.Value.AddMinutes(6));
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, r.State.Reason);
        Assert.Empty(r.Effects);
        Assert.Equal(Error(ProviderErrorKind.Transient).Code, r.ErrorCode);
    }

    [Fact]
    public void Recovering_pod_with_no_instance_past_its_deadline_fails_instead_of_creating()
    {
        var s = Accepted(PodStage.Recovering, Settings(FailStrategy.FailBack, TimeSpan.FromMinutes(5)));
        var r = Apply(s, new InstanceMissing(), s.AcceptedAt!.Value.AddMinutes(6));
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, r.State.Reason);
        Assert.Empty(r.Effects);
    }

    [Theory]
    [InlineData(CG.Scheduling)]
    [InlineData(CG.Pending)]
    public void Instance_not_running_by_the_deadline_fails_the_pod_and_is_released(ContainerGroupStatus status)
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(FailStrategy.FailBack, TimeSpan.FromMinutes(5))));
        pod.Advance(Second).Send(Created("eci-1"));
        pod.Advance(Second).Send(Observed("eci-1", status));
        Assert.Equal(PodStageExtensions.FromInstanceStatus(status), pod.State.Stage);
        Assert.True(PodStateMachine.NeedsWatchdog(pod.State));

        // Before the deadline the watchdog changes nothing.
        pod.Now = T0.AddMinutes(5) - Second;
        var early = pod.Send(new TimerElapsed());
        Assert.Empty(early.Effects);
        Assert.Equal(PodStageExtensions.FromInstanceStatus(status), early.State.Stage);

        pod.Now = T0.AddMinutes(5);
        var r = pod.Send(new TimerElapsed());
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, r.State.Reason);
        Assert.True(r.State.Releasing);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, r.Effects);
        Assert.True(PodStateMachine.NeedsWatchdog(r.State)); // the release is pending work

        // The instance starting late does not revive the pod.
        var late = pod.Advance(Second).Send(Observed("eci-1", CG.Running));
        Assert.Equal(PodStage.Failed, late.State.Stage);
        Assert.Empty(late.Effects);

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-1"));
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.False(r.State.Releasing);
        Assert.Null(r.State.InstanceId);
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, r.State.Reason);
        Assert.Empty(r.Effects);
        Assert.False(PodStateMachine.NeedsWatchdog(r.State));

        // A create was made, so deletion looks before forgetting the pod (here: the release did its job).
        r = pod.Advance(Second).Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        r = pod.Advance(Second).Send(new InstanceMissing());
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
    }

    [Fact]
    public void A_failed_release_is_retried_and_keeps_the_reason()
    {
        var s = Accepted(PodStage.Pending, Settings(FailStrategy.FailBack, TimeSpan.FromMinutes(5))) with { InstanceId = "eci-1" };
        var pod = new PodDriver(s) { Now = s.AcceptedAt!.Value.AddMinutes(5) };
        pod.Send(new TimerElapsed());
        Assert.True(pod.State.Releasing);

        var r = pod.Advance(Second).Send(new DeleteFailed("eci-1", Error(ProviderErrorKind.Transient)));
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.True(r.State.Releasing);
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, r.State.Reason);
        Assert.Equal(1, r.State.Failures);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);

        pod.Now = r.State.RetryAt.Value;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, r.Effects);
        Assert.Null(r.State.RetryAt); // the retry is spent: the delete is in flight
        Assert.True(r.State.Releasing);
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));

        // The watchdog firing while that delete is in flight does not send a second one.
        var watchdog = pod.Advance(Second).Send(new TimerElapsed());
        Assert.Equal(r.State, watchdog.State);
        Assert.Empty(watchdog.Effects);

        r = pod.Advance(Second).Send(new DeleteFailed("eci-1", Error(ProviderErrorKind.NotFound)));
        Assert.False(r.State.Releasing);
        Assert.Null(r.State.InstanceId);
        Assert.Empty(r.Effects);
    }

    [Theory]
    [InlineData(PodStage.Running)]
    [InlineData(PodStage.Terminating)]
    public void A_pod_that_has_run_is_never_failed_by_the_deadline(PodStage stage)
    {
        var s = Accepted(stage, Settings(FailStrategy.FailBack, TimeSpan.FromMinutes(5))) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-9) };
        var r = Apply(s, new TimerElapsed(), T0.AddHours(3));
        Assert.Equal(s, r.State);
        Assert.Empty(r.Effects);
    }

    // ── Deletion ────────────────────────────────────────────────────────────────────────────

    [Fact]
    public void Deleting_a_new_pod_is_immediate()
    {
        var r = Apply(PodLifecycle.Initial, new DeletionRequested(), T0);
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
    }

    [Theory]
    [InlineData(PodStage.Scheduling)]
    [InlineData(PodStage.Pending)]
    [InlineData(PodStage.Running)]
    [InlineData(PodStage.Restarting)]
    [InlineData(PodStage.Updating)]
    [InlineData(PodStage.Terminating)]
    [InlineData(PodStage.Succeeded)]
    [InlineData(PodStage.Failed)]
    public void Deleting_a_pod_with_an_instance_deletes_it_then_reports_gone(PodStage stage)
    {
        var pod = new PodDriver(Accepted(stage) with { InstanceId = "eci-1" });

        var r = pod.Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, r.Effects);
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));

        // Asked again while the delete is in flight: nothing more.
        Assert.Empty(pod.Send(new DeletionRequested()).Effects);

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-1"));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Null(r.State.InstanceId);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
        Assert.False(PodStateMachine.NeedsWatchdog(r.State));
    }

    [Fact]
    public void Delete_of_an_instance_already_gone_counts_as_done()
    {
        var pod = new PodDriver(Accepted(PodStage.Running) with { InstanceId = "eci-1", RunningAt = T0 });
        pod.Send(new DeletionRequested());
        var r = pod.Send(new DeleteFailed("eci-1", Error(ProviderErrorKind.NotFound)));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
    }

    [Fact]
    public void A_failed_delete_is_retried_after_a_backoff()
    {
        const double jitter = 0.4;
        var pod = new PodDriver(Accepted(PodStage.Running) with { InstanceId = "eci-1", RunningAt = T0 }, jitter);
        pod.Send(new DeletionRequested());

        var r = pod.Advance(Second).Send(new DeleteFailed("eci-1", Error(ProviderErrorKind.Transient)));
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(1, r.State.Failures);
        Assert.Equal(pod.Now + RetryPolicy.Default.Delay(1, jitter), r.State.RetryAt);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);
        var retryAt = r.State.RetryAt.Value;

        pod.Now = retryAt - TimeSpan.FromMilliseconds(1);
        Assert.DoesNotContain(pod.Send(new TimerElapsed()).Effects, e => e is DeleteInstance);

        pod.Now = retryAt;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Null(r.State.RetryAt);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, r.Effects);

        // A second failure waits longer (same jitter).
        r = pod.Advance(Second).Send(new DeleteFailed("eci-1", Error(ProviderErrorKind.Transient)));
        Assert.Equal(2, r.State.Failures);
        Assert.Equal(pod.Now + RetryPolicy.Default.Delay(2, jitter), r.State.RetryAt);

        pod.Now = r.State.RetryAt!.Value;
        pod.Send(new TimerElapsed());
        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-1"));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
    }

    [Fact]
    public void Deletion_while_creating_waits_for_the_create_then_deletes_what_it_made()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(PodSettings.Default));

        var r = pod.Advance(Second).Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Null(r.State.InstanceId);
        Assert.Empty(r.Effects); // the create is in flight: nothing to delete yet, and not gone yet
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));

        r = pod.Advance(Second).Send(Created("eci-1"));
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, r.Effects);

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-1"));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
    }

    [Fact]
    public void Deletion_while_creating_after_a_failed_create_looks_up_before_reporting_gone()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(PodSettings.Default));
        pod.Send(new DeletionRequested());

        var r = pod.Advance(Second).Send(new CreateFailed(Error(ProviderErrorKind.Transient)));
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        r = pod.Advance(Second).Send(new InstanceMissing());
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
    }

    [Fact]
    public void Deletion_while_creating_after_a_failed_create_deletes_an_instance_the_lookup_finds()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(PodSettings.Default));
        pod.Send(new DeletionRequested());
        pod.Send(new CreateFailed(Error(ProviderErrorKind.Transient)));

        // The lookup fails first: retried after a backoff.
        var r = pod.Advance(Second).Send(new LookupFailed(Error(ProviderErrorKind.Transient)));
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);
        pod.Now = r.State.RetryAt.Value;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        r = pod.Advance(Second).Send(new InstanceFound(Instance("eci-7", CG.Pending)));
        Assert.Equal("eci-7", r.State.InstanceId);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-7") }, r.Effects);

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-7"));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
    }

    [Fact]
    public void Deletion_while_backing_off_looks_for_an_instance_a_timed_out_create_may_have_made()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(PodSettings.Default));
        pod.Send(new CreateFailed(Error(ProviderErrorKind.Transient)));

        var r = pod.Advance(Second).Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        r = pod.Advance(Second).Send(new InstanceMissing());
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    /// <summary>
    /// Deletion during a backoff forgets the create retry: the lookup it starts is the only work in flight, so the
    /// old retry time must not fire a second lookup, and a failed lookup starts its own backoff from the first step.
    /// </summary>
    [Fact]
    public void Deletion_while_backing_off_drops_the_create_retry()
    {
        const double jitter = 0.5;
        var pod = new PodDriver(jitter: jitter);
        pod.Send(new Admitted(PodSettings.Default));
        pod.Send(new CreateFailed(Error(ProviderErrorKind.Transient)));
        pod.Now = pod.State.RetryAt!.Value;
        pod.Send(new TimerElapsed());
        var backingOff = pod.Advance(Second).Send(new CreateFailed(Error(ProviderErrorKind.Transient))).State;
        Assert.Equal(PodStage.BackingOff, backingOff.Stage);
        Assert.Equal(2, backingOff.Failures);
        var oldRetryAt = backingOff.RetryAt!.Value;

        var r = pod.Advance(Second).Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Null(r.State.InstanceId);
        Assert.Null(r.State.RetryAt);
        Assert.Equal(0, r.State.Failures);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        // The create retry's time comes: nothing happens, the lookup is still in flight.
        pod.Now = oldRetryAt;
        var timer = pod.Send(new TimerElapsed());
        Assert.Equal(r.State, timer.State);
        Assert.Empty(timer.Effects);

        // The lookup fails: its backoff is the first step, not the third.
        r = pod.Advance(Second).Send(new LookupFailed(Error(ProviderErrorKind.Transient)));
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(1, r.State.Failures);
        Assert.Equal(pod.Now + RetryPolicy.Default.Delay(1, jitter), r.State.RetryAt);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);
        Assert.Equal(2, pod.AllEffects.OfType<CreateInstance>().Count());
    }

    [Fact]
    public void Deletion_while_releasing_takes_over_the_release()
    {
        var s = Accepted(PodStage.Failed) with { InstanceId = "eci-1", Releasing = true, Reason = PodStateMachine.ReasonMaxPendingExceeded };
        var pod = new PodDriver(s);
        var r = pod.Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.False(r.State.Releasing);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, r.Effects);

        r = pod.Send(new DeleteSucceeded("eci-1"));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
    }

    // ── Recovery (durability rule 1: look before creating again) ─────────────────────────────

    [Fact]
    public void Reactivated_while_creating_looks_up_and_adopts_the_instance_without_creating_again()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(PodSettings.Default));
        var createsBefore = pod.AllEffects.OfType<CreateInstance>().Count();

        var r = pod.Advance(TimeSpan.FromSeconds(20)).Send(new Reactivated());
        Assert.Equal(PodStage.Recovering, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));

        r = pod.Advance(Second).Send(new InstanceFound(Instance("eci-1", CG.Pending)));
        Assert.Equal(PodStage.Pending, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Empty(r.Effects);

        r = pod.Advance(Second).Send(Observed("eci-1", CG.Running));
        Assert.Equal(PodStage.Running, r.State.Stage);
        Assert.Equal(createsBefore, pod.AllEffects.OfType<CreateInstance>().Count()); // no CreateInstance after the restart
        Assert.DoesNotContain(pod.AllEffects, e => e is DeleteInstance);
    }

    [Fact]
    public void Reactivated_while_creating_creates_when_the_lookup_finds_nothing()
    {
        var settings = Settings(FailStrategy.FailBack, null, "2-4Gi", "4-8Gi");
        var pod = new PodDriver();
        pod.Send(new Admitted(settings));
        pod.Send(new CreateFailed(Error(ProviderErrorKind.NoStock))); // now creating with the second spec
        pod.Send(new Reactivated());

        var r = pod.Advance(Second).Send(new InstanceMissing());
        Assert.Equal(PodStage.Creating, r.State.Stage);
        Assert.Equal(new PodEffect[] { new CreateInstance(settings.Specs[1], 3) }, r.Effects);
    }

    [Fact]
    public void Reactivated_while_creating_adopts_a_create_that_lands_within_the_grace_instead_of_creating_again()
    {
        var pod = new PodDriver { CreateLandingGrace = TimeSpan.FromSeconds(10) };
        pod.Send(new Admitted(PodSettings.Default));
        var r = pod.Advance(TimeSpan.FromSeconds(20)).Send(new Reactivated());
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        // The lost activation's create has not landed yet: the pod waits out the grace.
        r = pod.Advance(Second).Send(new InstanceMissing());
        Assert.Equal(PodStage.BackingOff, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(pod.Now.AddSeconds(9)) }, r.Effects);

        // It lands, and the node's poll shows it to the pod.
        r = pod.Advance(TimeSpan.FromSeconds(3)).Send(Observed("eci-1", CG.Scheduling));
        Assert.Equal(PodStage.Scheduling, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    [Fact]
    public void Reactivated_while_creating_creates_once_the_grace_is_over_with_nothing_landed()
    {
        var pod = new PodDriver { CreateLandingGrace = TimeSpan.FromSeconds(10) };
        pod.Send(new Admitted(PodSettings.Default));
        pod.Advance(TimeSpan.FromSeconds(20)).Send(new Reactivated());
        pod.Advance(Second).Send(new InstanceMissing());

        var r = pod.Advance(TimeSpan.FromSeconds(9)).Send(new TimerElapsed());
        Assert.Equal(PodStage.Creating, r.State.Stage);
        Assert.Equal(2, pod.AllEffects.OfType<CreateInstance>().Count());
    }

    [Fact]
    public void A_create_that_was_never_sent_is_made_again_after_the_lookup_without_waiting_out_the_grace()
    {
        // The silo stopped while the create waited for the budget; the pod resumes on another silo.
        var pod = new PodDriver { CreateLandingGrace = TimeSpan.FromSeconds(10) };
        pod.Send(new Admitted(PodSettings.Default));
        var r = pod.Advance(Second).Send(new CreateNotSent());
        Assert.Equal(PodStage.Recovering, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        pod.Advance(Second).Send(new Reactivated());
        r = pod.Advance(Second).Send(new InstanceMissing());
        Assert.Equal(PodStage.Creating, r.State.Stage);
        Assert.Equal(0, r.State.Failures);
        Assert.Equal(2, pod.AllEffects.OfType<CreateInstance>().Count());
    }

    [Fact]
    public void A_create_that_was_never_sent_still_adopts_what_an_earlier_attempt_made()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(PodSettings.Default));
        pod.Advance(Second).Send(new CreateNotSent());

        var r = pod.Advance(Second).Send(new InstanceFound(Instance("eci-1", CG.Pending)));
        Assert.Equal(PodStage.Pending, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    [Fact]
    public void A_late_create_outcome_during_recovery_is_adopted_and_a_later_lookup_answer_changes_nothing()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(PodSettings.Default));
        pod.Send(new Reactivated());

        var r = pod.Advance(Second).Send(Created("eci-1"));
        Assert.Equal(PodStage.Scheduling, r.State.Stage);
        Assert.Equal("eci-1", r.State.InstanceId);

        r = pod.Advance(Second).Send(new InstanceFound(Instance("eci-1", CG.Scheduling)));
        Assert.Empty(r.Effects);
        Assert.Equal("eci-1", r.State.InstanceId);
        Assert.Single(pod.AllEffects.OfType<CreateInstance>());
    }

    [Fact]
    public void A_failed_lookup_is_retried_after_a_backoff()
    {
        var pod = new PodDriver(Accepted(PodStage.Creating));
        pod.Send(new Reactivated());

        var r = pod.Advance(Second).Send(new LookupFailed(Error(ProviderErrorKind.Transient)));
        Assert.Equal(PodStage.Recovering, r.State.Stage);
        Assert.Equal(1, r.State.Failures);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);
        var retryAt = r.State.RetryAt.Value;

        pod.Now = retryAt - TimeSpan.FromMilliseconds(1);
        r = pod.Send(new TimerElapsed());
        Assert.Equal(new PodEffect[] { new ScheduleTimer(retryAt) }, r.Effects);

        pod.Now = retryAt;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(PodStage.Recovering, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);
        Assert.DoesNotContain(pod.AllEffects, e => e is CreateInstance);
    }

    [Fact]
    public void Reactivated_while_backing_off_keeps_waiting_for_the_retry_when_nothing_is_found()
    {
        var retryAt = T0.AddSeconds(30);
        var pod = new PodDriver(Accepted(PodStage.BackingOff) with { Failures = 1, RetryAt = retryAt, Reason = "NoStock" });

        var r = pod.Send(new Reactivated());
        Assert.Equal(PodStage.Recovering, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        r = pod.Advance(Second).Send(new InstanceMissing());
        Assert.Equal(PodStage.BackingOff, r.State.Stage);
        Assert.Equal(retryAt, r.State.RetryAt);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(retryAt) }, r.Effects);

        pod.Now = retryAt;
        r = pod.Send(new TimerElapsed());
        Assert.Equal(PodStage.Creating, r.State.Stage);
        Assert.Equal(new PodEffect[] { new CreateInstance(null, 2) }, r.Effects);
    }

    [Fact]
    public void Reactivated_while_deleting_repeats_the_delete_or_the_lookup()
    {
        var withInstance = Apply(Accepted(PodStage.Deleting) with { InstanceId = "eci-1" }, new Reactivated(), T0);
        Assert.Equal(PodStage.Deleting, withInstance.State.Stage);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, withInstance.Effects);

        var pod = new PodDriver(Accepted(PodStage.Deleting));
        var r = pod.Send(new Reactivated());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);
        r = pod.Send(new InstanceFound(Instance("eci-3", CG.Running)));
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-3") }, r.Effects);
        r = pod.Send(new DeleteSucceeded("eci-3"));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
    }

    [Fact]
    public void Reactivated_while_releasing_repeats_the_release()
    {
        var s = Accepted(PodStage.Failed) with { InstanceId = "eci-1", Releasing = true, Reason = PodStateMachine.ReasonMaxPendingExceeded };
        var r = Apply(s, new Reactivated(), T0);
        Assert.Equal(s, r.State);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, r.Effects);
    }

    // ── Never two instances for one pod ─────────────────────────────────────────────────────

    [Theory]
    [InlineData(PodStage.Scheduling)]
    [InlineData(PodStage.Pending)]
    [InlineData(PodStage.Running)]
    [InlineData(PodStage.Restarting)]
    [InlineData(PodStage.Updating)]
    [InlineData(PodStage.Terminating)]
    public void An_instance_that_is_not_the_pods_own_is_deleted(PodStage stage)
    {
        var s = Accepted(stage) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-1) };

        var r = Apply(s, Observed("eci-2", CG.Running), T0);
        Assert.Equal(s, r.State);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-2") }, r.Effects);
        Assert.Equal("DuplicateInstance", r.ErrorCode);

        // The outcome of that delete does not touch the pod.
        AssertIgnored(r.State, new DeleteSucceeded("eci-2"));
        AssertIgnored(r.State, new DeleteFailed("eci-2", Error(ProviderErrorKind.Transient)));
        AssertIgnored(r.State, new DeleteFailed("eci-2", Error(ProviderErrorKind.NotFound)));
    }

    /// <summary>The pods that keep an instance after they ended, or are deleting it: a live stranger is deleted there too.</summary>
    public static TheoryData<string> EndedPodsWithAnInstance() => ["Succeeded", "Failed", "Failed, releasing", "Failed, releasing, retry due", "Deleting", "Deleting, retry due"];

    private static PodLifecycle EndedPodWithAnInstance(string which) => which switch
    {
        "Succeeded" => Accepted(PodStage.Succeeded) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5), Reason = "Completed" },
        "Failed" => Accepted(PodStage.Failed) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5), Reason = "Error" },
        "Failed, releasing" => Accepted(PodStage.Failed) with { InstanceId = "eci-1", Releasing = true, Reason = PodStateMachine.ReasonMaxPendingExceeded },
        "Failed, releasing, retry due" => Accepted(PodStage.Failed) with
        {
            InstanceId = "eci-1", Releasing = true, Failures = 1, RetryAt = T0.AddSeconds(-1), Reason = PodStateMachine.ReasonMaxPendingExceeded,
        },
        "Deleting" => Accepted(PodStage.Deleting) with { InstanceId = "eci-1" },
        "Deleting, retry due" => Accepted(PodStage.Deleting) with { InstanceId = "eci-1", Failures = 1, RetryAt = T0.AddSeconds(-1) },
        _ => throw new ArgumentOutOfRangeException(nameof(which)),
    };

    [Theory]
    [MemberData(nameof(EndedPodsWithAnInstance))]
    public void An_instance_that_is_not_the_pods_own_is_deleted_after_the_pod_ended_or_while_it_is_deleted(string which)
    {
        var s = EndedPodWithAnInstance(which);

        foreach (var status in new[] { CG.Scheduling, CG.Pending, CG.Running, CG.Restarting, CG.Updating, CG.Terminating })
        {
            var r = Apply(s, Observed("eci-2", status), T0);
            Assert.Equal(s, r.State);
            Assert.Equal(new PodEffect[] { new DeleteInstance("eci-2") }, r.Effects);
            Assert.Equal("DuplicateInstance", r.ErrorCode);
        }

        foreach (var status in new[] { CG.Succeeded, CG.Failed, CG.Expired, CG.ScheduleFailed })
        {
            AssertIgnored(s, Observed("eci-2", status));
        }

        // Its own instance, whatever it says, is not deleted twice.
        AssertIgnored(s, Observed("eci-1", CG.Running));

        AssertIgnored(s, new DeleteSucceeded("eci-2"));
        AssertIgnored(s, new DeleteFailed("eci-2", Error(ProviderErrorKind.Transient)));
        AssertIgnored(s, new DeleteFailed("eci-2", Error(ProviderErrorKind.NotFound)));
    }

    /// <summary>
    /// The pod's own delete and a duplicate's delete can be in flight together. Only the outcome for the pod's own
    /// instance moves it: the duplicate's success must not report the pod gone while its instance still exists, and
    /// the duplicate's failure must not start a retry of the pod's delete.
    /// </summary>
    [Fact]
    public void Deleting_pod_is_not_gone_until_its_own_instance_is_deleted()
    {
        var pod = new PodDriver(Accepted(PodStage.Running) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-5) });

        var r = pod.Send(Observed("eci-2", CG.Running));
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-2") }, r.Effects);
        r = pod.Advance(Second).Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, r.Effects);
        var deleting = r.State;

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-2"));
        Assert.Equal(deleting, r.State);
        Assert.Empty(r.Effects);
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));

        r = pod.Send(new DeleteFailed("eci-2", Error(ProviderErrorKind.Transient)));
        Assert.Equal(deleting, r.State);
        Assert.Empty(r.Effects);

        r = pod.Send(new DeleteFailed("eci-2", Error(ProviderErrorKind.NotFound)));
        Assert.Equal(deleting, r.State);
        Assert.Empty(r.Effects);

        // The pod's own outcomes still work as before.
        r = pod.Advance(Second).Send(new DeleteFailed("eci-1", Error(ProviderErrorKind.Transient)));
        Assert.Equal(1, r.State.Failures);
        Assert.Equal(new PodEffect[] { new ScheduleTimer(r.State.RetryAt!.Value) }, r.Effects);
        pod.Now = r.State.RetryAt.Value;
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-1") }, pod.Send(new TimerElapsed()).Effects);

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-1"));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
        Assert.Single(pod.AllEffects.OfType<ReportGone>());
    }

    /// <summary>Likewise a release: the duplicate's outcome does not end the release of the pod's own instance.</summary>
    [Fact]
    public void Releasing_pod_keeps_releasing_its_own_instance_whatever_happens_to_a_duplicate()
    {
        var s = Accepted(PodStage.Pending, Settings(FailStrategy.FailBack, TimeSpan.FromMinutes(5))) with { InstanceId = "eci-1" };
        var pod = new PodDriver(s) { Now = s.AcceptedAt!.Value.AddMinutes(5) };
        pod.Send(new TimerElapsed());
        Assert.True(pod.State.Releasing);
        var releasing = pod.State;

        var r = pod.Advance(Second).Send(Observed("eci-2", CG.Pending));
        Assert.Equal(releasing, r.State);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-2") }, r.Effects);
        Assert.Equal("DuplicateInstance", r.ErrorCode);

        foreach (var outcome in new PodEvent[]
        {
            new DeleteSucceeded("eci-2"),
            new DeleteFailed("eci-2", Error(ProviderErrorKind.NotFound)),
            new DeleteFailed("eci-2", Error(ProviderErrorKind.Transient)),
        })
        {
            r = pod.Advance(Second).Send(outcome);
            Assert.Equal(releasing, r.State);
            Assert.Empty(r.Effects);
            Assert.True(PodStateMachine.NeedsWatchdog(r.State));
        }

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-1"));
        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.False(r.State.Releasing);
        Assert.Null(r.State.InstanceId);
        Assert.Equal(PodStateMachine.ReasonMaxPendingExceeded, r.State.Reason);
        Assert.Empty(r.Effects);
    }

    private static void AssertIgnored(PodLifecycle s, PodEvent e)
    {
        var r = Apply(s, e, T0);
        Assert.Equal(s, r.State);
        Assert.Empty(r.Effects);
        Assert.Null(r.ErrorCode);
    }

    [Fact]
    public void A_terminal_instance_that_is_not_the_pods_own_is_left_alone()
    {
        var s = Accepted(PodStage.Running) with { InstanceId = "eci-1", RunningAt = T0.AddMinutes(-1) };
        var r = Apply(s, Observed("eci-2", CG.Failed), T0);
        Assert.Equal(s, r.State);
        Assert.Empty(r.Effects);
    }

    /// <summary>
    /// Fail-fast on a create that timed out (a transient error: the provider may still have made the
    /// instance). When the status poll then sees that instance, the failed pod must release it, as it does
    /// for a late <see cref="CreateSucceeded"/>; otherwise it runs, billed, for as long as the pod exists.
    /// </summary>
    [Fact]
    public void Fail_fast_pod_releases_an_instance_its_timed_out_create_made()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(FailStrategy.FailFast)));
        pod.Advance(TimeSpan.FromSeconds(30)).Send(new CreateFailed(new ProviderError(ProviderErrorKind.Transient, "InternalError", "The operation was canceled.")));
        Assert.Equal(PodStage.Failed, pod.State.Stage);

        var r = pod.Advance(Second).Send(Observed("eci-late", CG.Pending));

        Assert.Equal(PodStage.Failed, r.State.Stage);
        Assert.Equal(PodStateMachine.ReasonProviderFailed, r.State.Reason);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-late") }, r.Effects);
        Assert.True(r.State.Releasing);
        Assert.Equal("eci-late", r.State.InstanceId);
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-late"));
        Assert.False(r.State.Releasing);
        Assert.Null(r.State.InstanceId);
    }

    /// <summary>
    /// A pod that failed after create attempts that may have made an instance (here: fail-fast on a timeout)
    /// must look for that instance before it reports itself gone — exactly what BackingOff does on deletion
    /// ("a create that timed out may still have made an instance: look before forgetting the pod").
    /// </summary>
    [Fact]
    public void Deleting_a_pod_that_failed_after_a_timed_out_create_looks_before_reporting_gone()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(FailStrategy.FailFast)));
        pod.Advance(TimeSpan.FromSeconds(30)).Send(new CreateFailed(new ProviderError(ProviderErrorKind.Transient, "InternalError", "The operation was canceled.")));
        Assert.Equal(PodStage.Failed, pod.State.Stage);

        var r = pod.Advance(Second).Send(new DeletionRequested());

        Assert.DoesNotContain(r.Effects, e => e is ReportGone);
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);

        r = pod.Advance(Second).Send(new InstanceFound(Instance("eci-late", CG.Running)));
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-late") }, r.Effects);

        r = pod.Advance(Second).Send(new DeleteSucceeded("eci-late"));
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
    }

    [Fact]
    public void Deleting_a_pod_that_failed_after_a_create_reports_gone_when_the_lookup_finds_nothing()
    {
        var pod = new PodDriver();
        pod.Send(new Admitted(Settings(FailStrategy.FailFast)));
        pod.Send(new CreateFailed(Error(ProviderErrorKind.QuotaExceeded)));
        Assert.Equal(PodStage.Failed, pod.State.Stage);
        Assert.Equal(1, pod.State.Attempts);

        var r = pod.Advance(Second).Send(new DeletionRequested());
        Assert.Equal(PodStage.Deleting, r.State.Stage);
        Assert.Equal(new PodEffect[] { new LookupInstance() }, r.Effects);
        Assert.True(PodStateMachine.NeedsWatchdog(r.State));

        r = pod.Advance(Second).Send(new InstanceMissing());
        Assert.Equal(PodStage.Deleted, r.State.Stage);
        Assert.Equal(new PodEffect[] { new ReportGone() }, r.Effects);
        Assert.DoesNotContain(pod.AllEffects, e => e is DeleteInstance);
    }

    /// <summary>A failed pod with no instance adopts a late live instance for release, whether it was refused or its create failed; a terminal one is ignored.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Failed_pod_without_an_instance_releases_a_live_one_it_sees_and_ignores_a_terminal_one(int attempts)
    {
        var s = Accepted(PodStage.Failed) with { Attempts = attempts, Reason = PodStateMachine.ReasonProviderFailed };

        foreach (var status in new[] { CG.Succeeded, CG.Failed, CG.Expired, CG.ScheduleFailed })
        {
            AssertIgnored(s, Observed("eci-late", status));
        }

        var r = Apply(s, Observed("eci-late", CG.Scheduling), T0);
        Assert.Equal(s with { InstanceId = "eci-late", Releasing = true }, r.State);
        Assert.Equal(new PodEffect[] { new DeleteInstance("eci-late") }, r.Effects);

        // Released once: seeing it again while the release is in flight does not delete it twice.
        AssertIgnored(r.State, Observed("eci-late", CG.Running));
    }

    // ── Watchdog ────────────────────────────────────────────────────────────────────────────

    [Theory]
    [InlineData(PodStage.New, false)]
    [InlineData(PodStage.Creating, true)]
    [InlineData(PodStage.BackingOff, true)]
    [InlineData(PodStage.Recovering, true)]
    [InlineData(PodStage.Scheduling, true)]
    [InlineData(PodStage.Pending, true)]
    [InlineData(PodStage.Running, false)]
    [InlineData(PodStage.Restarting, false)]
    [InlineData(PodStage.Updating, false)]
    [InlineData(PodStage.Terminating, false)]
    [InlineData(PodStage.Succeeded, false)]
    [InlineData(PodStage.Failed, false)]
    [InlineData(PodStage.Deleting, true)]
    [InlineData(PodStage.Deleted, false)]
    public void Watchdog_is_needed_only_while_work_is_pending(PodStage stage, bool expected)
    {
        var s = Accepted(stage) with { InstanceId = stage is PodStage.New or PodStage.Creating ? null : "eci-1" };
        Assert.Equal(expected, PodStateMachine.NeedsWatchdog(s));
        Assert.True(PodStateMachine.NeedsWatchdog(s with { Releasing = true }), "a release is pending work in any stage");
    }

    [Fact]
    public void Watchdog_covers_every_stage()
    {
        var withWatchdog = Enum.GetValues<PodStage>().Where(st => PodStateMachine.NeedsWatchdog(PodLifecycle.Initial with { Stage = st })).ToHashSet();
        Assert.Equal(
            new HashSet<PodStage> { PodStage.Creating, PodStage.BackingOff, PodStage.Recovering, PodStage.Deleting, PodStage.Scheduling, PodStage.Pending },
            withWatchdog);
    }
}
