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
    /// <summary>Pod grains active on it at the kill whose pods had not yet reached Running or an end.</summary>
    public int UnsettledPodsOnKilledSilo { get; init; }
    /// <summary>Until the membership showed it dead.</summary>
    public double? DeclaredDeadAfterSeconds { get; init; }
    /// <summary>Until the virtual node's Lease was renewed (renewTime after the kill, so by a live silo).</summary>
    public double? LeaseRenewedAfterSeconds { get; init; }
    /// <summary>Until every one of those pods was active on a live silo or had settled (Running or ended, seen through the API).</summary>
    public double? PodsOwnedAfterSeconds { get; init; }
    /// <summary>Those pods neither owned again nor settled when the run ended.</summary>
    public int PodsNotOwned { get; init; }
    /// <summary>The latest of the three; null when one of them never happened.</summary>
    public double? FailoverSeconds { get; init; }
}

/// <summary>
/// Follows a killed silo's work until it is owned again: the membership declares the silo dead,
/// the virtual node's Lease is renewed after the kill, and every pod that was active and unsettled
/// on it at the kill is active on a live silo or settled.
/// </summary>
public sealed class FailoverTracker : IAsyncDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(500);

    private readonly SiloClusterClient _client;
    private readonly SiloProcess _silo;
    private readonly SiloAddress? _address;
    private readonly DateTimeOffset _killedAt;
    private readonly double _killedAtSeconds;
    private readonly bool _hostedNode;
    private readonly int _unsettled;
    private readonly HashSet<Guid> _pending;
    private readonly PodPhaseWatch _pods;
    private readonly NodeHealthWatch _node;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private DateTimeOffset? _deadAt, _leaseAt, _ownedAt;

    private FailoverTracker(SiloClusterClient client, SiloProcess silo, SiloAddress? address, DateTimeOffset killedAt, double killedAtSeconds,
        bool hostedNode, IEnumerable<Guid> unsettledPods, PodPhaseWatch pods, NodeHealthWatch node)
    {
        (_client, _silo, _address, _killedAt, _killedAtSeconds, _hostedNode) = (client, silo, address, killedAt, killedAtSeconds, hostedNode);
        _pending = [.. unsettledPods];
        _unsettled = _pending.Count;
        (_pods, _node) = (pods, node);
    }

    /// <param name="address">The killed silo's Orleans address, when the membership knew it.</param>
    /// <param name="unsettledPods">The pod grains active on it at the kill whose pods had not settled.</param>
    public static FailoverTracker Start(SiloClusterClient client, SiloProcess silo, SiloAddress? address, DateTimeOffset killedAt, double killedAtSeconds,
        bool hostedNode, IEnumerable<Guid> unsettledPods, PodPhaseWatch pods, NodeHealthWatch node)
    {
        var tracker = new FailoverTracker(client, silo, address, killedAt, killedAtSeconds, hostedNode, unsettledPods, pods, node);
        var stopping = tracker._stop.Token;
        tracker._loop = Task.Run(() => tracker.RunAsync(stopping), CancellationToken.None);
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
                UnsettledPodsOnKilledSilo = _unsettled,
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
            _pending.RemoveWhere(_pods.IsSettled);
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

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
