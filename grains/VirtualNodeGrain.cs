using Orleans.Concurrency;
using VNodeMesh.Grains.Cluster;

namespace VNodeMesh.Grains;

/// <summary>
/// One virtual node (key: node name): admits pods against its capacity, accounts for them by stage,
/// and polls the provider for status changes in batches, fanning them out to the pod grains.
/// While active it is connected to its cluster (Node, Lease, pod watch) through an <see cref="INodeConnector"/>.
/// Reentrant so that a poll or a large submission never holds up the pods' stage reports.
/// </summary>
[Reentrant]
public sealed partial class VirtualNodeGrain(
    IInstanceProvider provider,
    INodeConnector connector,
    IOptions<VirtualNodeOptions> options,
    IOptions<PodLifecycleOptions> podOptions,
    VirtualNodeGauges gauges,
    TimeProvider time,
    ILogger<VirtualNodeGrain> logger) : Grain, IVirtualNodeGrain
{
    public const string ReasonOutOfPods = "OutOfpods";

    // Every pod this node knows, by UID, with its name for look-ups. New marks a pod whose admission is still in flight.
    private readonly Dictionary<Guid, PodEntry> _pods = [];
    private readonly int[] _byStage = new int[Enum.GetValues<PodStage>().Length];
    // One instance of each namespace name, shared by the node's pods.
    private readonly HashSet<string> _namespaces = [];
    // Pods on their way somewhere (not Running or ended), since when the node last heard of them.
    private readonly Dictionary<Guid, DateTimeOffset> _unsettledSince = [];
    private int _refusedForCapacity;
    private long _polls;
    private long _fannedOut;
    private long _backOffs;
    private long _retries;
    private DateTimeOffset? _lastPollStartedAt;
    private DateTimeOffset? _lastResyncStartedAt;
    // Statuses whose delivery to their pod failed; sent again by the next poll.
    private Dictionary<Guid, ContainerGroup> _undelivered = [];
    private bool _polling;
    private Dictionary<string, string>? _nodeTags;
    private IAsyncDisposable? _connection;

    private string NodeName => this.GetPrimaryKeyString();

    /// <summary>Pods that hold a slot: everything not terminal, including admissions in flight.</summary>
    private int ActivePods => _pods.Count - _byStage[(int)PodStage.Succeeded] - _byStage[(int)PodStage.Failed];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _nodeTags = new() { [ContainerGroupTags.Node] = NodeName, [ContainerGroupTags.Cluster] = podOptions.Value.Cluster };
        var interval = options.Value.PollInterval;
        this.RegisterGrainTimer(static (node, ct) => node.PollAsync(ct), this,
            new GrainTimerCreationOptions(interval, interval) { Interleave = true, KeepAlive = true });
        _connection = connector.Connect(NodeName, this.AsReference<IVirtualNodeGrain>());
        gauges.Track(NodeName, _byStage);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        gauges.Untrack(NodeName, _byStage);
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }

    public async Task<SubmitResult> SubmitPods(IReadOnlyList<PodManifest> pods)
    {
        int accepted = 0, refused = 0, known = 0;
        var admissions = new List<(Guid Uid, Task<PodStage> Stage)>(pods.Count);
        var refusals = new List<Task>();
        foreach (var pod in pods)
        {
            var grain = GrainFactory.GetGrain<IPodGrain>(pod.Uid);
            if (_pods.ContainsKey(pod.Uid))
            {
                known++; // submitting again re-drives a pod whose grain may have been lost; the grain ignores it otherwise
                Name(pod.Uid, pod.Namespace, pod.Name);
                admissions.Add((pod.Uid, grain.Submit(NodeName, pod)));
            }
            else if (ActivePods >= options.Value.Capacity)
            {
                refused++;
                _refusedForCapacity++;
                Track(pod.Uid, PodStage.Failed);
                Name(pod.Uid, pod.Namespace, pod.Name);
                refusals.Add(grain.Reject(NodeName, pod, ReasonOutOfPods,
                    $"virtual node {NodeName} is at its capacity of {options.Value.Capacity} pods"));
            }
            else
            {
                accepted++;
                Track(pod.Uid, PodStage.New); // holds its slot before anything is awaited
                Name(pod.Uid, pod.Namespace, pod.Name);
                admissions.Add((pod.Uid, grain.Submit(NodeName, pod)));
            }
        }

        await Task.WhenAll(refusals);
        foreach (var (uid, stage) in admissions)
        {
            var reached = await stage;
            // A stage report that arrived during the call is newer than the call's answer.
            if (_pods.TryGetValue(uid, out var current) && current.Stage == PodStage.New)
            {
                Track(uid, reached);
            }
        }

        return new SubmitResult(accepted, refused, known);
    }

    public Task DeletePods(IReadOnlyList<Guid> podUids) =>
        Task.WhenAll(podUids.Select(uid => GrainFactory.GetGrain<IPodGrain>(uid).RequestDeletion()));

    public Task OnPodStagesChanged(IReadOnlyList<PodStageChange> changes)
    {
        foreach (var change in changes)
        {
            Track(change.Uid, change.To);
            if (change.To == PodStage.BackingOff && change.From != PodStage.BackingOff)
            {
                _backOffs++;
            }
            else if (change.From == PodStage.BackingOff && change.To is PodStage.Creating or PodStage.Recovering)
            {
                _retries++;
            }
        }

        return Task.CompletedTask;
    }

    public Task<int> CheckApiPhases(IReadOnlyList<PodApiPhase> pods)
    {
        var republished = 0;
        foreach (var (uid, phase) in pods)
        {
            // Only a pod that got further than the API shows: Pending stages look Pending there anyway.
            if (_pods.TryGetValue(uid, out var entry) && entry.Stage is PodStage.Running or PodStage.Succeeded or PodStage.Failed
                && entry.Stage.ToPodPhase() != phase)
            {
                GrainFactory.GetGrain<IPodGrain>(uid).Republish().Ignore();
                republished++;
            }
        }

        return Task.FromResult(republished);
    }

    public Task<VirtualNodeSummary> GetSummary()
    {
        var byStage = new Dictionary<PodStage, int>();
        for (var i = 0; i < _byStage.Length; i++)
        {
            if (_byStage[i] > 0)
            {
                byStage[(PodStage)i] = _byStage[i];
            }
        }

        return Task.FromResult(new VirtualNodeSummary(NodeName, options.Value.Capacity, _pods.Count, byStage,
            _refusedForCapacity, _polls, _fannedOut, _lastPollStartedAt, _backOffs, _retries, (provider as IProviderQuota)?.GetUsage()));
    }

    public Task<Guid?> FindPod(string @namespace, string name)
    {
        // A scan: look-ups are rare (a person searching), so the node keeps no second index of its pods.
        foreach (var (uid, pod) in _pods)
        {
            if (pod.Name == name && pod.Namespace == @namespace)
            {
                return Task.FromResult<Guid?>(uid);
            }
        }

        return Task.FromResult<Guid?>(null);
    }

    private void Track(Guid uid, PodStage stage)
    {
        var entry = default(PodEntry);
        if (_pods.TryGetValue(uid, out var previous))
        {
            _byStage[(int)previous.Stage]--;
            entry = previous;
        }

        if (stage == PodStage.Deleted)
        {
            _pods.Remove(uid);
            _unsettledSince.Remove(uid);
            return;
        }

        _pods[uid] = entry with { Stage = stage };
        _byStage[(int)stage]++;
        if (stage is PodStage.Running or PodStage.Succeeded or PodStage.Failed)
        {
            _unsettledSince.Remove(uid);
        }
        else
        {
            _unsettledSince[uid] = time.GetUtcNow();
        }
    }

    private void Name(Guid uid, string? @namespace, string? name)
    {
        if (@namespace is null || name is null || !_pods.TryGetValue(uid, out var entry))
        {
            return;
        }

        if (!_namespaces.TryGetValue(@namespace, out var shared))
        {
            _namespaces.Add(shared = @namespace);
        }

        _pods[uid] = entry with { Namespace = shared, Name = name };
    }

    /// <summary>Asks each pod the node has not heard of for a resync interval to report again (and to look at its instance).</summary>
    private void ResyncQuietPods(DateTimeOffset now)
    {
        var quietSince = now - options.Value.ResyncInterval;
        foreach (var uid in _unsettledSince.Where(p => p.Value <= quietSince).Select(p => p.Key).ToList())
        {
            _unsettledSince[uid] = now;
            GrainFactory.GetGrain<IPodGrain>(uid).Resync().Ignore();
        }
    }

    /// <summary>
    /// One "changed since" poll, paged. Each poll looks back to the start of the previous one plus an
    /// overlap, so nothing falls between two polls; a failed poll simply widens the next one. Once per
    /// resync interval the poll looks back to the previous resync instead, and the first poll of an
    /// activation over the catch-up window, so a node relearns whatever its view lost.
    /// </summary>
    private async Task PollAsync(CancellationToken cancellationToken)
    {
        if (_polling)
        {
            return;
        }

        _polling = true;
        try
        {
            var started = time.GetUtcNow();
            var resync = _lastResyncStartedAt is not { } lastResync || started - lastResync >= options.Value.ResyncInterval;
            var since = resync ? _lastResyncStartedAt : _lastPollStartedAt;
            var window = since is { } last ? started - last + options.Value.PollOverlap : options.Value.CatchUpWindow;
            var sinceSeconds = (int)Math.Ceiling(Math.Max(1, window.TotalSeconds));
            Redeliver();
            if (resync)
            {
                ResyncQuietPods(started);
            }

            string? nextToken = null;
            do
            {
                var page = await provider.DescribeChangedContainerGroupStatusAsync(
                    new ChangedSinceQuery(sinceSeconds, ChangedSinceQuery.MaxLimit, nextToken, _nodeTags), cancellationToken);
                FanOut(page.Items);
                nextToken = page.NextToken;
            }
            while (nextToken is not null && !cancellationToken.IsCancellationRequested);

            _lastPollStartedAt = started;
            if (resync)
            {
                _lastResyncStartedAt = started;
            }

            _polls++;
        }
        catch (ProviderException ex)
        {
            LogPollFailed(NodeName, ex.Error.Code, ex.Error.Message);
        }
        finally
        {
            _polling = false;
        }
    }

    private void FanOut(IReadOnlyList<ContainerGroup> instances)
    {
        foreach (var instance in instances)
        {
            if (!Guid.TryParse(instance.PodUid, out var uid))
            {
                continue;
            }

            // The poll overlaps the previous one: a status the pod has already reached is not sent again.
            var observed = PodStageExtensions.FromInstanceStatus(instance.Status);
            if (_pods.TryGetValue(uid, out var known) && known.Stage == observed)
            {
                continue;
            }

            if (!_pods.ContainsKey(uid))
            {
                Track(uid, observed); // a node activated again relearns its pods from the provider
                Name(uid, instance.Tags.GetValueOrDefault(ContainerGroupTags.Namespace), instance.Tags.GetValueOrDefault(ContainerGroupTags.PodName));
            }

            DeliverAsync(uid, instance).Ignore();
        }
    }

    private void Redeliver()
    {
        if (_undelivered.Count == 0)
        {
            return;
        }

        var undelivered = _undelivered;
        _undelivered = [];
        foreach (var (uid, instance) in undelivered)
        {
            DeliverAsync(uid, instance).Ignore();
        }
    }

    /// <summary>Sends a status to its pod; if it does not get there, the next poll sends it (or a newer one) again.</summary>
    private async Task DeliverAsync(Guid uid, ContainerGroup instance)
    {
        _fannedOut++;
        try
        {
            await GrainFactory.GetGrain<IPodGrain>(uid).OnInstanceStatus(instance);
        }
        catch (Exception ex)
        {
            if (!_undelivered.TryGetValue(uid, out var newer) || newer.StatusChangedAt < instance.StatusChangedAt)
            {
                _undelivered[uid] = instance;
            }

            LogDeliveryFailed(ex, NodeName, uid);
        }
    }

    private readonly record struct PodEntry(PodStage Stage, string? Namespace, string? Name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node}: a status could not be delivered to pod {PodUid}; the next poll sends it again")]
    private partial void LogDeliveryFailed(Exception exception, string node, Guid podUid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node}: status poll failed ({Code}: {Message}); the next poll looks further back")]
    private partial void LogPollFailed(string node, string code, string message);
}
