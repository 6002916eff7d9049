using System.Net;
using k8s;
using VNodeMesh.Silo.Kubernetes;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// The virtual node as the cluster sees it, read every half second by the tool's own client: each
/// renewal of its Lease in <c>kube-node-lease</c> (a new <c>spec.renewTime</c>), and its Ready
/// condition. A renewal is late when it comes more than the renew interval plus a tolerance after
/// the one before; the Lease expired when no renewal came for its whole duration.
/// </summary>
public sealed class NodeHealthWatch : IAsyncDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(500);

    private readonly IKubernetes _client;
    private readonly string _node;
    private readonly TimeSpan _lateAfter;
    private readonly List<DateTimeOffset> _renewals = [];
    private readonly Lock _gate = new();
    private BackgroundLoop? _loop;
    private TimeSpan _maxGap;
    private int _late;
    private int _leaseSeconds = 40;
    private bool _expired;
    private bool _wasReady;
    private int _notReady;
    private string? _notReadyReason;

    private NodeHealthWatch(IKubernetes client, string node, TimeSpan lateAfter) => (_client, _node, _lateAfter) = (client, node, lateAfter);

    /// <param name="renewInterval">How often the silos renew the Lease (<c>VNodeMesh:Kubernetes:LeaseRenewInterval</c>).</param>
    /// <param name="tolerance">How much later than that a renewal may come without counting as missed.</param>
    public static NodeHealthWatch Start(IKubernetes client, string node, TimeSpan renewInterval, TimeSpan tolerance)
    {
        var watch = new NodeHealthWatch(client, node, renewInterval + tolerance);
        watch._loop = new BackgroundLoop(watch.RunAsync);
        return watch;
    }

    /// <summary>What was seen so far; a Lease not renewed for its duration up to now counts as expired.</summary>
    public NodeHealth Snapshot()
    {
        lock (_gate)
        {
            var now = DateTimeOffset.UtcNow;
            var sinceLast = _renewals.Count > 0 ? now - _renewals[^1] : TimeSpan.Zero;
            var open = sinceLast > _lateAfter ? 1 : 0;
            return new NodeHealth(
                _renewals.Count,
                _late + open,
                Math.Round(Max(_maxGap, sinceLast).TotalSeconds, 1),
                _expired || sinceLast > TimeSpan.FromSeconds(_leaseSeconds),
                _notReady > 0,
                _notReadyReason);
        }
    }

    /// <summary>The first renewal with a renewTime after <paramref name="moment"/>, when one was seen.</summary>
    public DateTimeOffset? FirstRenewalAfter(DateTimeOffset moment)
    {
        lock (_gate)
        {
            foreach (var renewal in _renewals)
            {
                if (renewal > moment)
                {
                    return renewal;
                }
            }

            return null;
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            await ReadLeaseAsync(cancellationToken);
            await ReadNodeAsync(cancellationToken);
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    private async Task ReadLeaseAsync(CancellationToken cancellationToken)
    {
        try
        {
            var lease = await _client.CoordinationV1.ReadNamespacedLeaseAsync(_node, NodeRegistration.LeaseNamespace, cancellationToken: cancellationToken);
            if (lease.Spec?.RenewTime is not { } renewTime)
            {
                return;
            }

            var renewed = new DateTimeOffset(DateTime.SpecifyKind(renewTime, DateTimeKind.Utc));
            lock (_gate)
            {
                _leaseSeconds = lease.Spec.LeaseDurationSeconds ?? _leaseSeconds;
                if (_renewals.Count > 0 && renewed <= _renewals[^1])
                {
                    return;
                }

                if (_renewals.Count > 0)
                {
                    var gap = renewed - _renewals[^1];
                    _maxGap = Max(_maxGap, gap);
                    _late += gap > _lateAfter ? 1 : 0;
                    _expired |= gap > TimeSpan.FromSeconds(_leaseSeconds);
                }

                _renewals.Add(renewed);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (ex.Is(HttpStatusCode.NotFound) || ApiErrors.IsTransient(ex)))
        {
            // not registered yet, or a moment's trouble: the next read tells
        }
    }

    private async Task ReadNodeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var node = await _client.CoreV1.ReadNodeAsync(_node, cancellationToken: cancellationToken);
            var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
            lock (_gate)
            {
                if (ready?.Status == "True")
                {
                    _wasReady = true;
                }
                else if (_wasReady)
                {
                    _notReady++;
                    _notReadyReason ??= $"Ready={ready?.Status ?? "missing"} ({ready?.Reason}: {ready?.Message})";
                }
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (ex.Is(HttpStatusCode.NotFound) || ApiErrors.IsTransient(ex)))
        {
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    public ValueTask DisposeAsync() => _loop?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>The virtual node's health over a run, as <see cref="NodeHealthWatch"/> saw it.</summary>
public sealed record NodeHealth(int LeaseRenewals, int LateRenewals, double MaxGapSeconds, bool LeaseExpired, bool NotReadyObserved, string? NotReady);
