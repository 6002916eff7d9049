using System.Text;
using Orleans.Dashboard;
using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Grains.Cluster;

namespace VNodeMesh.Grains;

/// <summary>
/// One pod's lifecycle (key: pod UID). Transitions come from <see cref="PodStateMachine"/>; the grain
/// persists each one, then runs its effects. Provider calls run behind the grain call that caused
/// them and come back as <see cref="IPodGrain.OnProviderOutcome"/> messages, so no call waits on the cloud.
/// Pods are spread over the silos by activation count: the default placement prefers the calling silo,
/// which would gather a node's pods on the node grain's silo and leave a silo that joins without any.
/// </summary>
[Orleans.Placement.ActivationCountBasedPlacement]
[NoProfiling] // Orleans' dashboard does not time a pod's calls: its lifecycle trace has them
public sealed partial class PodGrain(
    [PersistentState(PodGrain.StateName, VNodeMeshStorage.Name)] IPersistentState<PodState> state,
    IInstanceProvider provider,
    IOptions<PodLifecycleOptions> options,
    PodStageReporter stageReporter,
    PodTraceSampler traceSampler,
    IPodMirror mirror,
    Microsoft.Extensions.Hosting.IHostApplicationLifetime silo,
    IClusterMembershipService membership,
    TimeProvider time,
    ILogger<PodGrain> logger) : Grain, IPodGrain, IRemindable
{
    /// <summary>The name of the pod's state in <see cref="VNodeMeshStorage.Name"/>.</summary>
    public const string StateName = "pod";

    private const string WatchdogReminder = "watchdog";
    private const int OutcomeDeliveryAttempts = 10;
    private readonly RetryPolicy _retry = new(options.Value.RetryBaseDelay, options.Value.RetryMaxDelay);
    private IGrainTimer? _timer;
    private bool _watchdog;
    private IGrainReminder? _watchdogReminder;
    // Provider calls whose outcome this activation has not applied yet.
    private int _callsInFlight;
    // The manifest as a pod, kept from admission until its instance is created so it is parsed once.
    private k8s.Models.V1Pod? _pod;
    // What the pod's API status was last asked to show by this activation.
    private PodView? _published;

    private PodLifecycle Lifecycle => state.State.Lifecycle;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.RecordExists && Lifecycle.Stage != PodStage.New)
        {
            // Whatever was in flight when the previous activation ended may or may not have happened.
            _watchdog = PodStateMachine.NeedsWatchdog(Lifecycle);
            // Not published again here: a node that moves re-submits all its pods, and a write lost with
            // the previous activation's silo is found by the node's check of the API phases (Republish).
            await ApplyAsync(new Reactivated());
        }
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Its silo is stopping and abandons the pod's provider call or retry timer. A message sent now
        // waits until this activation is gone, then activates the pod on a silo that stays (this one is
        // no longer Active), which resumes it at once rather than at its watchdog.
        if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown && state.RecordExists && HasWorkBeforeWatchdog
            && membership.CurrentSnapshot.Members.Values.Any(m => m.Status == SiloStatus.Active))
        {
            this.AsReference<IPodGrain>().Resync().Ignore();
        }

        return Task.CompletedTask;
    }

    public async Task<PodStage> Submit(string node, PodManifest pod)
    {
        if (Lifecycle.Stage != PodStage.New)
        {
            return Lifecycle.Stage;
        }

        _pod = pod.ToPod();
        var admission = PodAdmission.Admit(_pod);
        Remember(node, pod, keepManifest: admission is Admitted);
        await ApplyAsync(admission);
        return Lifecycle.Stage;
    }

    public async Task Reject(string node, PodManifest pod, string reason, string message)
    {
        if (Lifecycle.Stage == PodStage.New)
        {
            Remember(node, pod, keepManifest: false);
            await ApplyAsync(new Refused(reason, message));
        }
    }

    public Task RequestDeletion() => ApplyAsync(new DeletionRequested());

    public async Task OnInstanceStatus(ContainerGroup instance)
    {
        // The node forwards a status only when it believes the pod is elsewhere: if nothing changes,
        // the node's view is stale (a report lost with a silo), so it is told where the pod is.
        // An observation older than the last one applied never moves the pod back.
        var stale = state.State.Instance?.IsNewerThan(instance) == true;
        if ((stale || !await ApplyAsync(new InstanceObserved(instance))) && state.State.Node is { } node)
        {
            stageReporter.Report(node, new(this.GetPrimaryKey(), Lifecycle.Stage, Lifecycle.Stage));
        }
    }

    public Task OnProviderOutcome(PodEvent outcome) => ApplyAsync(outcome);

    public async Task Resync()
    {
        if (state.State.Node is not { } node)
        {
            return;
        }

        if (Stalled)
        {
            await ApplyAsync(new Reactivated());
        }

        stageReporter.Report(node, new(this.GetPrimaryKey(), Lifecycle.Stage, Lifecycle.Stage));
        if (Lifecycle is { Stage: PodStage.Scheduling or PodStage.Pending or PodStage.Restarting or PodStage.Updating, InstanceId: { } id })
        {
            // A status the node's poll sent may have been lost: the instance is asked directly.
            var self = this.AsReference<IPodGrain>();
            Task.Run(async () =>
            {
                var found = await provider.DescribeContainerGroupStatusAsync([id], silo.ApplicationStopping);
                if (found.Count > 0)
                {
                    await self.OnInstanceStatus(found[0]);
                }
            }).Ignore(); // a failure is retried at the node's next resync
        }
    }

    public Task Republish()
    {
        _published = null;
        Publish(time.GetUtcNow());
        return Task.CompletedTask;
    }

    public Task<PodSnapshot> GetSnapshot() => Task.FromResult(state.State.ToSnapshot(this.GetPrimaryKey()));

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WatchdogReminder)
        {
            return;
        }

        _watchdog = true;
        await ApplyAsync(Stalled ? new Reactivated() : new TimerElapsed());
        if (!PodStateMachine.NeedsWatchdog(Lifecycle))
        {
            await SetWatchdogAsync(false); // a leftover of a crash between persisting and unregistering
        }
    }

    /// <summary>
    /// Waiting for a provider call's outcome with no call in flight: the outcome was lost (its delivery
    /// timed out). The pod is re-driven as after a reactivation, looking for an instance before creating one.
    /// </summary>
    private bool Stalled => Volatile.Read(ref _callsInFlight) == 0 && Lifecycle.RetryAt is null && AwaitsProvider;

    /// <summary>The pod waits for a provider call of its own (not for its instance's status, which the node's poll brings).</summary>
    private bool AwaitsProvider => Lifecycle.Releasing || Lifecycle.Stage is PodStage.Creating or PodStage.Recovering or PodStage.Deleting;

    /// <summary>
    /// Work the watchdog's next tick would come too late for: a provider call, or a retry due before it (later
    /// retries wait for it, so a storm of backed-off pods does not move all at once).
    /// </summary>
    private bool HasWorkBeforeWatchdog => AwaitsProvider
        || (Lifecycle is { Stage: PodStage.BackingOff, RetryAt: { } retryAt } && retryAt - time.GetUtcNow() < options.Value.WatchdogPeriod);

    private void Remember(string node, PodManifest pod, bool keepManifest)
    {
        state.State.Node = node;
        state.State.Namespace = pod.Namespace;
        state.State.Name = pod.Name;
        state.State.Manifest = keepManifest ? pod : null;
    }

    /// <returns>Whether the event changed anything.</returns>
    private async Task<bool> ApplyAsync(PodEvent e)
    {
        var before = Lifecycle;
        var context = new LifecycleContext(time.GetUtcNow(), Random.Shared.NextDouble(), _retry, options.Value.CreateLandingGrace);
        var result = PodStateMachine.Apply(before, e, context);
        var after = result.State;
        var instance = InstanceAfter(e, after);
        var instanceChanged = instance is null ? state.State.Instance is not null : !instance.SameAs(state.State.Instance);
        if (after.Equals(before) && result.Effects.Count == 0 && !instanceChanged)
        {
            return false;
        }

        try
        {
            using var activity = PodTracing.StartStep(traceSampler, this.GetPrimaryKey(), state.State, before, e);
            if (activity is not null)
            {
                PodTracing.Describe(activity, this.GetPrimaryKey(), state.State, before, after, EventName(e), result.ErrorCode);
            }

            state.State.Lifecycle = after;
            state.State.Instance = instance;
            if (after.InstanceId is not null)
            {
                state.State.Manifest = null;
                _pod = null;
            }

            if (after.Stage != before.Stage || after.Releasing != before.Releasing || result.ErrorCode is not null)
            {
                Record(before, after, e, result.ErrorCode, context.Now);
            }

            // Persist first: an effect is never reported done for a transition that could be lost.
            await state.WriteStateAsync();

            PodMetrics.Transitioned(before, after, context.Now, result.ErrorCode);
            if (before.RunningAt is null && after.RunningAt is { } running && after.AcceptedAt is { } accepted)
            {
                PodTracing.RecordStartup(this.GetPrimaryKey(), state.State, accepted, running);
            }

            if (after.Stage != before.Stage && state.State.Node is { } node)
            {
                stageReporter.Report(node, new(this.GetPrimaryKey(), before.Stage, after.Stage));
            }

            Mirror(before, after, e, context.Now);
            await SetWatchdogAsync(PodStateMachine.NeedsWatchdog(after));
            foreach (var effect in result.Effects)
            {
                await RunAsync(effect);
            }

            // A pod with nothing left to do needs no activation: its state is stored, and the next
            // status change or deletion activates it again. This keeps 50,000 running pods cheap.
            if (!_watchdog && after.Stage is PodStage.Running or PodStage.Succeeded or PodStage.Failed)
            {
                DeactivateOnIdle();
            }
        }
        catch (Exception ex)
        {
            // This activation's state may now differ from what is stored (a write failed: the store
            // is down), and the effects after the failure never ran. The next call activates the pod
            // afresh from storage, and the reactivation re-drives whatever was in flight.
            LogTransitionFailed(ex, this.GetPrimaryKey(), before.Stage, EventName(e));
            DeactivateOnIdle();
            throw;
        }

        return true;
    }

    /// <summary>The instance behind the pod after an event: created, observed, or unchanged.</summary>
    private InstanceView? InstanceAfter(PodEvent e, PodLifecycle after)
    {
        var current = state.State.Instance;
        if (after.InstanceId is not { } id)
        {
            return current;
        }

        current = current?.InstanceId == id ? current : new InstanceView(id);
        return e switch
        {
            CreateSucceeded c when c.Result.ContainerGroupId == id && current.RequestId is null =>
                current with { RequestId = c.Result.RequestId, ZoneId = c.Result.ZoneId ?? current.ZoneId, Spec = c.Result.Spec ?? current.Spec },
            InstanceFound f when f.Instance.ContainerGroupId == id => current.With(f.Instance),
            InstanceObserved o when o.Instance.ContainerGroupId == id => current.With(o.Instance),
            _ => current,
        };
    }

    /// <summary>Tells the cluster what changed: the pod's status, Events worth an owner's attention, its removal.</summary>
    private void Mirror(PodLifecycle before, PodLifecycle after, PodEvent e, DateTimeOffset now)
    {
        if (state.State is not { Namespace: { } ns, Name: { } name })
        {
            return;
        }

        var pod = new PodReference(this.GetPrimaryKey(), ns, name);
        var instance = state.State.Instance;
        switch (e)
        {
            case CreateSucceeded when instance is not null && before.InstanceId is null:
                mirror.Record(pod, PodNote.Created(instance));
                break;
            case CreateFailed when after.Stage == PodStage.BackingOff && after.Reason is { } reason:
                mirror.Record(pod, PodNote.Retrying(reason, after.Message, after.Attempts));
                break;
            case DeleteSucceeded deleted when after.Stage == PodStage.Deleted:
                mirror.Record(pod, PodNote.Deleted(deleted.InstanceId));
                break;
        }

        if (after.Stage == PodStage.Failed && before.Stage != PodStage.Failed && after.InstanceId is null && after.Reason is { } failure)
        {
            mirror.Record(pod, PodNote.Failed(failure, after.Message));
        }

        if (after.Stage == PodStage.Deleted)
        {
            mirror.Remove(pod);
        }
        else
        {
            Publish(now);
        }
    }

    /// <summary>Asks for the pod's API status to show its lifecycle, unless it already was asked to look that way.</summary>
    private void Publish(DateTimeOffset now)
    {
        var s = state.State;
        if (s is not { Namespace: { } ns, Name: { } name } || s.Lifecycle.Stage is PodStage.New or PodStage.Deleting or PodStage.Deleted)
        {
            return;
        }

        if (s.Instance is null && s.Lifecycle.Reason is null && s.Lifecycle.Stage.ToPodPhase() == PodPhase.Pending)
        {
            return; // a create on its way with nothing to report: the pod looks as it did when it was bound
        }

        var view = new PodView(now, new PodReference(this.GetPrimaryKey(), ns, name), s.Lifecycle.Stage, s.Lifecycle.Reason,
            s.Lifecycle.Message, s.Lifecycle.AcceptedAt, s.Instance);
        if (!view.LooksLike(_published))
        {
            mirror.Publish(view);
            _published = view;
        }
    }

    private void Record(PodLifecycle before, PodLifecycle after, PodEvent e, string? errorCode, DateTimeOffset now)
    {
        var history = state.State.History;
        if (history.Count >= options.Value.HistoryLimit)
        {
            history.RemoveAt(1); // keep the first entry: where the pod's trace starts
            state.State.DroppedTransitions++;
        }

        var detail = after.Stage is PodStage.Failed or PodStage.BackingOff || errorCode is not null ? after.Message : null;
        history.Add(new PodTransition(now, before.Stage, after.Stage, EventName(e), after.Attempts, errorCode, detail));
        if (errorCode is not null)
        {
            LogTransitionError(this.GetPrimaryKey(), before.Stage, after.Stage, errorCode, after.Attempts);
        }
    }

    private static string EventName(PodEvent e) => e.GetType().Name;

    private async Task RunAsync(PodEffect effect)
    {
        switch (effect)
        {
            case CreateInstance create when state.State.Manifest is { } pod:
                var request = new CreateContainerGroupRequest(ClientToken(pod.Uid), ContainerGroupName(pod), _pod ??= pod.ToPod(), create.Spec, Tags(pod));
                Background(async ct => new CreateSucceeded(await provider.CreateContainerGroupAsync(request, ct)), static e => new CreateFailed(e), new CreateNotSent());
                break;
            case CreateInstance:
                await ApplyAsync(new CreateFailed(new ProviderError(ProviderErrorKind.InvalidSpec, "ManifestMissing", "the pod's manifest was not kept, so its instance cannot be created")));
                break;
            case LookupInstance:
                var byUid = new DescribeContainerGroupsQuery(Tags: new Dictionary<string, string> { [ContainerGroupTags.PodUid] = this.GetPrimaryKey().ToString() });
                Background(async ct =>
                {
                    var page = await provider.DescribeContainerGroupsAsync(byUid, ct);
                    var found = page.Items.FirstOrDefault(i => !i.Status.IsTerminal()) ?? page.Items.FirstOrDefault();
                    return found is null ? new InstanceMissing() : new InstanceFound(found);
                }, static e => new LookupFailed(e));
                break;
            case DeleteInstance delete:
                Background(async ct =>
                {
                    await provider.DeleteContainerGroupAsync(delete.InstanceId, ct);
                    return new DeleteSucceeded(delete.InstanceId);
                }, e => new DeleteFailed(delete.InstanceId, e));
                break;
            case ScheduleTimer timer:
                var due = timer.At - time.GetUtcNow();
                _timer?.Dispose();
                _timer = this.RegisterGrainTimer(static (grain, _) => grain.ApplyAsync(new TimerElapsed()), this,
                    new GrainTimerCreationOptions(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan));
                break;
            case ReportGone:
                _timer?.Dispose();
                await state.ClearStateAsync();
                DeactivateOnIdle();
                break;
        }
    }

    /// <summary>
    /// Runs a provider call on the thread pool, outside the grain's turn; its outcome comes back
    /// as a message, so it is applied in order with everything else. When this silo stops, the call
    /// is abandoned and the pod resumed elsewhere (<see cref="OnDeactivateAsync"/>), looking for an
    /// instance first; <paramref name="notSent"/> tells it first that the call had not left.
    /// </summary>
    private void Background(Func<CancellationToken, Task<PodEvent>> call, Func<ProviderError, PodEvent> failed, PodEvent? notSent = null)
    {
        var self = this.AsReference<IPodGrain>();
        var podUid = this.GetPrimaryKey();
        var stopping = silo.ApplicationStopping;
        Interlocked.Increment(ref _callsInFlight);
        Task.Run(async () =>
        {
            PodEvent outcome;
            try
            {
                outcome = await call(stopping);
            }
            catch (ProviderException ex)
            {
                outcome = failed(ex.Error);
            }
            catch (RequestNotSentException) when (notSent is not null)
            {
                outcome = notSent;
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogProviderCallFailed(ex, podUid);
                outcome = failed(new ProviderError(ProviderErrorKind.Transient, "InternalError", ex.Message));
            }

            try
            {
                // Tried once even while the silo stops: an outcome applied before the pod moves spares its next activation the doubt.
                for (var attempt = 1; attempt == 1 || !stopping.IsCancellationRequested; attempt++)
                {
                    try
                    {
                        await self.OnProviderOutcome(outcome);
                        return;
                    }
                    catch (Exception ex) when (attempt < OutcomeDeliveryAttempts && !stopping.IsCancellationRequested)
                    {
                        LogOutcomeRedelivered(ex, podUid, attempt);
                        await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), CancellationToken.None);
                    }
                }
            }
            finally
            {
                Interlocked.Decrement(ref _callsInFlight); // once applied, or lost: then the pod is Stalled
            }
        }, CancellationToken.None).Ignore();
    }

    private async Task SetWatchdogAsync(bool wanted)
    {
        if (wanted == _watchdog)
        {
            return;
        }

        _watchdog = wanted;
        if (wanted)
        {
            var period = options.Value.WatchdogPeriod;
            _watchdogReminder = await this.RegisterOrUpdateReminder(WatchdogReminder, period, period);
        }
        else if ((_watchdogReminder ?? await this.GetReminder(WatchdogReminder)) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
            _watchdogReminder = null;
        }
    }

    /// <summary>The idempotency token of every create for this pod: one pod, one instance.</summary>
    public static string ClientToken(Guid podUid) => podUid.ToString("D");

    /// <summary>ECI names: 2–128 characters of lowercase letters, digits and '-', not starting or ending with '-'.</summary>
    public static string ContainerGroupName(PodManifest pod)
    {
        var builder = new StringBuilder(pod.Namespace.Length + pod.Name.Length + 1);
        foreach (var c in $"{pod.Namespace}-{pod.Name}")
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-');
        }

        var name = builder.ToString().Trim('-');
        return name.Length switch
        {
            < 2 => $"pod-{pod.Uid:N}"[..36],
            > 128 => name[..128].TrimEnd('-'),
            _ => name,
        };
    }

    private Dictionary<string, string> Tags(PodManifest pod) => new()
    {
        [ContainerGroupTags.Cluster] = options.Value.Cluster,
        [ContainerGroupTags.Node] = state.State.Node!,
        [ContainerGroupTags.Namespace] = pod.Namespace,
        [ContainerGroupTags.PodName] = pod.Name,
        [ContainerGroupTags.PodUid] = pod.Uid.ToString(),
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Pod {PodUid}: {From} -> {To} after error {ErrorCode} (attempt {Attempt})")]
    private partial void LogTransitionError(Guid podUid, PodStage from, PodStage to, string errorCode, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pod {PodUid}: the outcome of a provider call could not be delivered (attempt {Attempt}); sending it again")]
    private partial void LogOutcomeRedelivered(Exception exception, Guid podUid, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pod {PodUid}: the step from {Stage} on {Event} failed; the pod is activated again from its stored state")]
    private partial void LogTransitionFailed(Exception exception, Guid podUid, PodStage stage, string @event);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pod {PodUid}: provider call failed unexpectedly")]
    private partial void LogProviderCallFailed(Exception exception, Guid podUid);
}
