namespace VNodeMesh.Grains;

/// <summary>
/// Coalesces the stage changes of this silo's pod grains into one message per virtual node per
/// interval, so a burst costs the node grain a handful of calls instead of several per pod.
/// One batch per node is in flight at a time, so the node applies them in order; a batch that does
/// not get there is sent again ahead of newer changes. The last batch goes out while the silo stops,
/// after its grains are gone and before its services are disposed.
/// </summary>
public sealed partial class PodStageReporter : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly IGrainFactory _grains;
    private readonly ILogger<PodStageReporter> _logger;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<PodStageChange>> _pending = [];
    private readonly HashSet<string> _sending = [];

    public PodStageReporter(IGrainFactory grains, TimeProvider time, ILogger<PodStageReporter> logger)
    {
        _grains = grains;
        _logger = logger;
        _timer = time.CreateTimer(static s => ((PodStageReporter)s!).Flush(), this, FlushInterval, FlushInterval);
    }

    public void Report(string node, PodStageChange change)
    {
        lock (_gate)
        {
            if (!_pending.TryGetValue(node, out var changes))
            {
                _pending[node] = changes = [];
            }

            changes.Add(change);
        }
    }

    /// <summary>Sends each node's pending changes, unless a batch to that node is still on its way.</summary>
    public void Flush()
    {
        List<(string Node, List<PodStageChange> Changes)> batches = [];
        lock (_gate)
        {
            foreach (var (node, changes) in _pending)
            {
                if (_sending.Add(node))
                {
                    batches.Add((node, changes));
                }
            }

            foreach (var (node, _) in batches)
            {
                _pending.Remove(node);
            }
        }

        foreach (var (node, changes) in batches)
        {
            SendAsync(node, changes).Ignore();
        }
    }

    private async Task SendAsync(string node, List<PodStageChange> changes)
    {
        try
        {
            await _grains.GetGrain<IVirtualNodeGrain>(node).OnPodStagesChanged(changes);
        }
        catch (Exception ex)
        {
            LogBatchFailed(ex, node, changes.Count);
            lock (_gate)
            {
                // Older than anything reported since, so they go first.
                if (_pending.TryGetValue(node, out var newer))
                {
                    changes.AddRange(newer);
                }

                _pending[node] = changes;
            }
        }
        finally
        {
            lock (_gate)
            {
                _sending.Remove(node);
            }
        }
    }

    private async Task StopAsync()
    {
        _timer.Dispose();
        var deadline = Environment.TickCount64 + (long)StopTimeout.TotalMilliseconds;
        while (Environment.TickCount64 < deadline)
        {
            Flush();
            lock (_gate)
            {
                if (_pending.Count == 0 && _sending.Count == 0)
                {
                    return;
                }
            }

            await Task.Delay(FlushInterval);
        }

        // Whatever did not get through is made good by the nodes' resync.
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(PodStageReporter), ServiceLifecycleStage.RuntimeGrainServices, _ => Task.CompletedTask, _ => StopAsync());

    public void Dispose() => _timer.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stage changes of {Count} pods could not be reported to virtual node {Node}; sending them again")]
    private partial void LogBatchFailed(Exception exception, string node, int count);
}
