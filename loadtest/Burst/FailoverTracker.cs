using Orleans.Runtime;
using VNodeMesh.LoadTest.Cluster;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>How long the work of a killed silo took to be owned again, and by what measure.</summary>
public sealed record FailoverReport
{
    /// <summary>The killed silo (<c>silo-N</c>) and whether it hosted the virtual node's grain.</summary>
    public string Silo { get; init; } = "";
    public bool HostedVirtualNode { get; init; }
    /// <summary>Seconds into the run when it was killed.</summary>
    public double KilledAtSeconds { get; init; }
    /// <summary>Pods not yet Running or ended (through the API) at the kill.</summary>
    public int UnsettledPodsAtKill { get; init; }
    /// <summary>Of those, the ones whose grain was active on the killed silo.</summary>
    public int UnsettledPodsOnKilledSilo { get; init; }
    /// <summary>Of those, the ones no live silo held active at the kill: active on the killed silo, or active nowhere (not yet dispatched, or a status write queued).</summary>
    public int PodsToOwnAgain { get; init; }
    /// <summary>Until the membership showed it dead.</summary>
    public double? DeclaredDeadAfterSeconds { get; init; }
    /// <summary>Until the virtual node's Lease was renewed (renewTime after the kill, so by a live silo).</summary>
    public double? LeaseRenewedAfterSeconds { get; init; }
    /// <summary>Until every one of those pods was active on a live silo, had changed in the API after the kill, or had settled (Running or ended).</summary>
    public double? PodsOwnedAfterSeconds { get; init; }
    /// <summary>Those pods neither owned again nor settled when the run ended.</summary>
    public int PodsNotOwned { get; init; }
    /// <summary>The latest of the three; null when one of them never happened.</summary>
    public double? FailoverSeconds { get; init; }
}

/// <summary>
/// Follows a killed silo's work until it is owned again: the membership declares the silo dead,
/// the virtual node's Lease is renewed after the kill (so by a live silo), and every pod that was
/// unsettled at the kill and not active on a live silo then has progressed: it is active on a live
/// silo, or its API object changed after the kill, or it settled.
/// </summary>
public sealed class FailoverTracker : IAsyncDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(500);

    private readonly SiloClusterClient _client;
    private readonly SiloProcess _silo;
    private readonly SiloAddress? _address;
    private readonly DateTimeOffset _killedAt;
    private readonly double _killedAtSeconds;
    private readonly long _killedAtTimestamp;
    private readonly bool _hostedNode;
    private readonly (int AtKill, int OnSilo) _unsettled;
    private readonly int _toOwn;
    private readonly HashSet<Guid> _pending;
    private readonly PodPhaseWatch _pods;
    private readonly NodeHealthWatch _node;
    private readonly Lock _gate = new();
    private BackgroundLoop? _loop;
    private DateTimeOffset? _deadAt, _leaseAt, _ownedAt;

    private FailoverTracker(SiloClusterClient client, SiloProcess silo, SiloAddress? address, DateTimeOffset killedAt, long killedAtTimestamp,
        double killedAtSeconds, bool hostedNode, FailoverStart start, PodPhaseWatch pods, NodeHealthWatch node)
    {
        (_client, _silo, _address, _killedAt, _killedAtTimestamp, _killedAtSeconds, _hostedNode) =
            (client, silo, address, killedAt, killedAtTimestamp, killedAtSeconds, hostedNode);
        _pending = [.. start.ToOwnAgain];
        _toOwn = _pending.Count;
        _unsettled = (start.UnsettledAtKill, start.UnsettledOnSilo);
        (_pods, _node) = (pods, node);
    }

    /// <summary>The pods at the kill: how many were unsettled, how many of those the killed silo held, and which no live silo held.</summary>
    public sealed record FailoverStart(int UnsettledAtKill, int UnsettledOnSilo, IReadOnlyCollection<Guid> ToOwnAgain);

    /// <param name="address">The killed silo's Orleans address, when the membership knew it.</param>
    /// <param name="killedAtTimestamp">The <see cref="System.Diagnostics.Stopwatch"/> timestamp of the kill, for the pods' changes.</param>
    public static FailoverTracker Start(SiloClusterClient client, SiloProcess silo, SiloAddress? address, DateTimeOffset killedAt, long killedAtTimestamp,
        double killedAtSeconds, bool hostedNode, FailoverStart start, PodPhaseWatch pods, NodeHealthWatch node)
    {
        var tracker = new FailoverTracker(client, silo, address, killedAt, killedAtTimestamp, killedAtSeconds, hostedNode, start, pods, node);
        tracker._loop = new BackgroundLoop(tracker.RunAsync);
        return tracker;
    }

    public bool Completed
    {
        get
        {
            lock (_gate)
            {
                return _deadAt is not null && _leaseAt is not null && _ownedAt is not null;
            }
        }
    }

    public FailoverReport Report()
    {
        lock (_gate)
        {
            double? After(DateTimeOffset? at) => at is { } t ? Math.Round(Math.Max(0, (t - _killedAt).TotalSeconds), 1) : null;
            var parts = new[] { After(_deadAt), After(_leaseAt), After(_ownedAt) };
            return new FailoverReport
            {
                Silo = _silo.Name,
                HostedVirtualNode = _hostedNode,
                KilledAtSeconds = Math.Round(_killedAtSeconds, 1),
                UnsettledPodsAtKill = _unsettled.AtKill,
                UnsettledPodsOnKilledSilo = _unsettled.OnSilo,
                PodsToOwnAgain = _toOwn,
                DeclaredDeadAfterSeconds = parts[0],
                LeaseRenewedAfterSeconds = parts[1],
                PodsOwnedAfterSeconds = parts[2],
                PodsNotOwned = _pending.Count,
                FailoverSeconds = parts.All(p => p is not null) ? parts.Max() : null,
            };
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Period);
        while (!Completed && await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await CheckAsync();
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // a management call that met the dead silo or timed out: the next round asks again
            }
        }
    }

    private async Task CheckAsync()
    {
        var now = DateTimeOffset.UtcNow;
        if (_leaseAt is null && _node.FirstRenewalAfter(_killedAt) is { } renewed)
        {
            lock (_gate)
            {
                _leaseAt = renewed;
            }
        }

        lock (_gate)
        {
            _pending.RemoveWhere(uid => _pods.IsSettled(uid) || _pods.ChangedSince(uid, _killedAtTimestamp));
        }

        var membership = await _client.MembershipAsync();
        if (_deadAt is null && (_address is null || !membership.TryGetValue(_address, out var status) || status == SiloStatus.Dead))
        {
            lock (_gate)
            {
                _deadAt = now;
            }
        }

        int pending;
        lock (_gate)
        {
            pending = _pending.Count;
        }

        if (pending > 0)
        {
            var live = membership.Where(m => m.Value == SiloStatus.Active && !m.Key.Equals(_address)).Select(m => m.Key).ToArray();
            var owned = live.Length == 0 ? [] : await _client.PodActivationsAsync(live);
            lock (_gate)
            {
                foreach (var (pod, _) in owned)
                {
                    _pending.Remove(pod);
                }
            }
        }

        lock (_gate)
        {
            if (_ownedAt is null && _pending.Count == 0)
            {
                _ownedAt = now;
            }
        }
    }

    public ValueTask DisposeAsync() => _loop?.DisposeAsync() ?? ValueTask.CompletedTask;
}
