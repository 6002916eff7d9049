namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>A provider call whose outcome is a step of the trace: what was asked, and whether it worked.</summary>
public sealed record ProviderCall(string Operation, bool Succeeded);

/// <summary>One transition of a pod's trace, with the time it took to get there.</summary>
public sealed record TraceStep(
    DateTimeOffset At,
    PodStage From,
    PodStage To,
    string Event,
    int Attempt,
    string? ErrorCode,
    string? Detail,
    TimeSpan SincePrevious,
    TimeSpan SinceStart,
    ProviderCall? Call,
    bool GapBefore);

/// <summary>
/// How long the pod stayed in a stage; the last one of a pod still on its way is open, and one that
/// ends where the trace dropped transitions is not known to have lasted that long.
/// </summary>
public sealed record StageSpan(PodStage Stage, DateTimeOffset Start, TimeSpan Duration, bool Open, bool Unknown);

/// <summary>The provider calls a trace shows, by operation and outcome.</summary>
public sealed record ProviderCallCounts(int Creates, int CreatesFailed, int Lookups, int LookupsFailed, int Deletes, int DeletesFailed, int StatusObservations);

/// <summary>A pod's lifecycle as the dashboard shows it: its snapshot with every transition timed and explained.</summary>
public sealed record PodTrace(PodSnapshot Pod, IReadOnlyList<TraceStep> Steps, IReadOnlyList<StageSpan> Spans, ProviderCallCounts Calls, TimeSpan? StartupLatency)
{
    public static PodTrace From(PodSnapshot pod, DateTimeOffset now)
    {
        var steps = new List<TraceStep>(pod.History.Count);
        PodTransition? previous = null;
        var first = pod.History.Count > 0 ? pod.History[0].At : default;
        for (var i = 0; i < pod.History.Count; i++)
        {
            var t = pod.History[i];
            // The trace keeps its first entry and drops the oldest after it.
            var gap = previous is not null && (previous.To != t.From || (i == 1 && pod.DroppedTransitions > 0));
            steps.Add(new TraceStep(t.At, t.From, t.To, t.Event, t.Attempt, t.ErrorCode, t.Detail,
                previous is null ? TimeSpan.Zero : t.At - previous.At, t.At - first, CallOf(t.Event), gap));
            previous = t;
        }

        var spans = new List<StageSpan>(steps.Count);
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var last = i == steps.Count - 1;
            var end = last ? (IsFinal(step.To) ? step.At : Max(now, step.At)) : steps[i + 1].At;
            spans.Add(new StageSpan(step.To, step.At, end - step.At, last && !IsFinal(step.To), !last && steps[i + 1].GapBefore));
        }

        var calls = new ProviderCallCounts(
            Count(steps, "create", true), Count(steps, "create", false),
            Count(steps, "lookup", true), Count(steps, "lookup", false),
            Count(steps, "delete", true), Count(steps, "delete", false),
            Count(steps, "status", true));
        var latency = pod is { AcceptedAt: { } accepted, RunningAt: { } running } ? running - accepted : (TimeSpan?)null;
        return new PodTrace(pod, steps, spans, calls, latency);
    }

    /// <summary>
    /// The events that are outcomes of a provider call: creates and deletes the pod made, the look-up
    /// of its instance after a restart, and the node's batched status poll.
    /// </summary>
    public static ProviderCall? CallOf(string eventName) => eventName switch
    {
        nameof(CreateSucceeded) => new("create", true),
        nameof(CreateFailed) => new("create", false),
        nameof(InstanceFound) or nameof(InstanceMissing) => new("lookup", true),
        nameof(LookupFailed) => new("lookup", false),
        nameof(DeleteSucceeded) => new("delete", true),
        nameof(DeleteFailed) => new("delete", false),
        nameof(InstanceObserved) => new("status", true),
        _ => null,
    };

    private static bool IsFinal(PodStage stage) => stage is PodStage.Succeeded or PodStage.Failed or PodStage.Deleted;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static int Count(List<TraceStep> steps, string operation, bool succeeded) =>
        steps.Count(s => s.Call is { } call && call.Operation == operation && call.Succeeded == succeeded);
}
