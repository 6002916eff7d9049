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

    private static readonly Histogram<double> Startup = VNodeMeshTelemetry.Meter.CreateHistogram<double>(
        StartupDuration, "ms", "Time from a pod's admission until its instance first runs.");

    private static readonly Counter<long> TransitionCount = VNodeMeshTelemetry.Meter.CreateCounter<long>(
        Transitions, description: "Pod stage transitions, by destination stage.");

    private static readonly Counter<long> RetryCount = VNodeMeshTelemetry.Meter.CreateCounter<long>(
        Retries, description: "Provider operations scheduled again after a failure.");

    public static void Transitioned(PodLifecycle before, PodLifecycle after)
    {
        if (after.Stage != before.Stage)
        {
            TransitionCount.Add(1, new KeyValuePair<string, object?>("stage", after.Stage.ToString()));
        }

        if (after.Failures > before.Failures)
        {
            RetryCount.Add(1);
        }

        if (before.RunningAt is null && after.RunningAt is { } running && after.AcceptedAt is { } accepted)
        {
            Startup.Record((running - accepted).TotalMilliseconds);
        }
    }
}
