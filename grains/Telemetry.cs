using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using VNodeMesh.Grains.Lifecycle;

namespace VNodeMesh.Grains;

/// <summary>The one <see cref="Meter"/> and <see cref="ActivitySource"/> of VNodeMesh.</summary>
public static class VNodeMeshTelemetry
{
    public const string Name = "VNodeMesh";
    public static readonly Meter Meter = new(Name);
    public static readonly ActivitySource ActivitySource = new(Name);
}

/// <summary>Pod lifecycle instruments.</summary>
public static class PodMetrics
{
    public const string StartupDuration = "vnodemesh.pod.startup.duration";
    public const string Transitions = "vnodemesh.pod.transitions";
    public const string Retries = "vnodemesh.pod.retries";
    public const string BackoffDelay = "vnodemesh.pod.backoff.delay";

    /// <summary>From a tenth of a second (an instance already there) to ten minutes (a burst behind a small create budget).</summary>
    public static readonly double[] StartupBuckets = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

    /// <summary>The retry policy's range: from its base delay to its maximum of a minute and beyond (a long retry-after).</summary>
    public static readonly double[] BackoffBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

    private static readonly Histogram<double> Startup = VNodeMeshTelemetry.Meter.CreateHistogram(
        StartupDuration, "s", "Time from a pod's admission until its instance first runs.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StartupBuckets });

    private static readonly Counter<long> TransitionCount = VNodeMeshTelemetry.Meter.CreateCounter<long>(
        Transitions, "{transition}", "Pod stage transitions, by destination stage.");

    private static readonly Counter<long> RetryCount = VNodeMeshTelemetry.Meter.CreateCounter<long>(
        Retries, "{retry}", "Provider operations scheduled again after a failure.");

    private static readonly Histogram<double> Backoff = VNodeMeshTelemetry.Meter.CreateHistogram(
        BackoffDelay, "s", "Delays of the retries scheduled after a failed provider operation, by the stage that waits and the error code.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = BackoffBuckets });

    public static void Transitioned(PodLifecycle before, PodLifecycle after, DateTimeOffset now, string? errorCode)
    {
        if (after.Stage != before.Stage)
        {
            TransitionCount.Add(1, new KeyValuePair<string, object?>("stage", PodStageNames.Of(after.Stage)));
        }

        if (after.Failures > before.Failures)
        {
            RetryCount.Add(1);
            if (after.RetryAt is { } at)
            {
                Backoff.Record(Math.Max(0, (at - now).TotalSeconds),
                    new KeyValuePair<string, object?>("stage", PodStageNames.Of(after.Stage)), new KeyValuePair<string, object?>("code", errorCode));
            }
        }

        if (before.RunningAt is null && after.RunningAt is { } running && after.AcceptedAt is { } accepted)
        {
            Startup.Record((running - accepted).TotalSeconds);
        }
    }
}

/// <summary>The names of the stages, made once: tags and spans name them on every transition.</summary>
public static class PodStageNames
{
    private static readonly string[] Names = Enum.GetValues<PodStage>().Select(s => s.ToString()).ToArray();

    public static int Count => Names.Length;

    public static string Of(PodStage stage) => (int)stage < Names.Length ? Names[(int)stage] : stage.ToString();
}

/// <summary>
/// The pods of the virtual nodes active in this silo, by stage (<c>vnodemesh.pods</c>). A node grain registers the
/// counters it keeps anyway, so an observation costs nothing between scrapes. One instance per silo; the instrument
/// reads every live instance, as several silos may share a process.
/// </summary>
public sealed class VirtualNodeGauges : IDisposable
{
    public const string PodsInstrument = "vnodemesh.pods";

    private static readonly ConcurrentDictionary<VirtualNodeGauges, byte> Silos = new();

    private static readonly ObservableGauge<long> Pods = VNodeMeshTelemetry.Meter.CreateObservableGauge(
        PodsInstrument, ObservePods, "{pod}", "Pods known to each virtual node, by lifecycle stage.");

    private readonly ConcurrentDictionary<string, int[]> _nodes = new();

    public VirtualNodeGauges() => Silos[this] = 0;

    /// <summary>The node's pods by stage, indexed by <see cref="PodStage"/>, read (without a lock) when observed.</summary>
    public void Track(string node, int[] podsByStage) => _nodes[node] = podsByStage;

    public void Untrack(string node, int[] podsByStage) => _nodes.TryRemove(new KeyValuePair<string, int[]>(node, podsByStage));

    public void Dispose() => Silos.TryRemove(this, out _);

    private static IEnumerable<Measurement<long>> ObservePods()
    {
        foreach (var silo in Silos.Keys)
        {
            foreach (var (node, byStage) in silo._nodes)
            {
                for (var stage = 0; stage < byStage.Length; stage++)
                {
                    if ((PodStage)stage != PodStage.Deleted)
                    {
                        yield return new Measurement<long>(Volatile.Read(ref byStage[stage]),
                            new KeyValuePair<string, object?>("node", node), new KeyValuePair<string, object?>("stage", PodStageNames.Of((PodStage)stage)));
                    }
                }
            }
        }
    }
}
