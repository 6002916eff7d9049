using VNodeMesh.LoadTest.Burst;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>What <c>--api-faults</c> did to the silos' API traffic, as the proxy counted it.</summary>
public sealed record ApiFaultsReport(long WatchesBroken, long WatchesHeld, long GoneAnswers, double PeriodSeconds, double HoldSeconds);

/// <summary>
/// The faults of <c>--api-faults</c>, through an <see cref="ApiServerProxy"/>: every period the
/// silos' watches are broken, and every other time their reconnections are held long enough for
/// the API server to compact past where they were (so they resume into a real 410 Gone and relist).
/// Leases, status writes and lists go on meanwhile.
/// </summary>
public sealed class ApiFaultSchedule : IAsyncDisposable
{
    private readonly ApiServerProxy _proxy;
    private readonly Action<string>? _log;
    private readonly TimeSpan _period;
    private readonly TimeSpan _hold;
    private readonly BackgroundLoop _loop;

    /// <param name="hold">Longer than two compaction intervals of the API server (kube-apiserver compacts up to the revision of the interval before).</param>
    /// <param name="log">Told what each round did.</param>
    public ApiFaultSchedule(ApiServerProxy proxy, TimeSpan period, TimeSpan hold, Action<string>? log = null)
    {
        (_proxy, _period, _hold, _log) = (proxy, period, hold, log);
        _loop = new BackgroundLoop(RunAsync);
    }

    public ApiFaultsReport Report()
    {
        var statistics = _proxy.Statistics;
        return new(statistics.WatchesBroken, statistics.WatchesHeld, statistics.GoneAnswers, _period.TotalSeconds, _hold.TotalSeconds);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_period);
        for (var round = 1; await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false); round++)
        {
            var hold = round % 2 == 0;
            if (hold)
            {
                _proxy.HoldWatches(_hold);
            }

            var broken = _proxy.BreakWatches();
            _log?.Invoke($"API faults: broke {broken} watches{(hold ? $", their reconnections held {_hold.TotalSeconds:0} s" : "")}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _loop.DisposeAsync();
        _proxy.HoldWatches(TimeSpan.Zero);
    }
}
