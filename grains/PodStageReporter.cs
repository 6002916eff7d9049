namespace VNodeMesh.Grains;

/// <summary>
/// Coalesces the stage changes of this silo's pod grains into one message per virtual node per
/// interval, so a burst costs the node grain a handful of calls instead of several per pod.
/// The last batch goes out while the silo stops, after its grains are gone and before its
/// services are disposed.
/// </summary>
public sealed class PodStageReporter : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(50);

    private readonly IGrainFactory _grains;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private Dictionary<string, List<PodStageChange>> _pending = [];

    public PodStageReporter(IGrainFactory grains, TimeProvider time)
    {
        _grains = grains;
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

    public void Flush()
    {
        Dictionary<string, List<PodStageChange>> batch;
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            batch = _pending;
            _pending = [];
        }

        foreach (var (node, changes) in batch)
        {
            _grains.GetGrain<IVirtualNodeGrain>(node).OnPodStagesChanged(changes).Ignore();
        }
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(PodStageReporter), ServiceLifecycleStage.RuntimeGrainServices, _ => Task.CompletedTask, _ =>
        {
            _timer.Dispose();
            Flush();
            return Task.CompletedTask;
        });

    public void Dispose() => _timer.Dispose();
}
