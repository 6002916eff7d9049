using System.Collections.Concurrent;
using System.Diagnostics;
using VNodeMesh.Grains.Lifecycle;

namespace VNodeMesh.Grains;

/// <summary>
/// The spans of a pod's lifecycle, one per applied event ("pod &lt;Event&gt;"). The pod's first traced step starts a
/// trace of its own (a burst is not one trace of 50,000 pods) and its context is kept in the pod's state: every later
/// step until the pod first runs or ends is its child, on whichever silo the pod is active, so one trace goes from the
/// pod's first event to Running. The call that brought a step (a grain call, a provider outcome) is linked. After that,
/// steps follow the call that caused them (a deletion, a status change) and link back to the lifecycle trace.
/// Which pods are traced is chosen by <see cref="PodTraceSampler"/> before the root starts; the root carries the
/// pod's UID (<see cref="PodUidTag"/>) so that the tracer's sampler can keep that choice.
/// </summary>
public static class PodTracing
{
    public const string StartupSpan = "pod startup";
    public const string PodUidTag = "k8s.pod.uid";

    private static readonly ConcurrentDictionary<Type, string> SpanNames = new();

    /// <summary>Starts the span of one step; null when nobody listens or the pod's trace is not sampled.</summary>
    public static Activity? StartStep(PodTraceSampler sampler, Guid uid, PodState state, PodLifecycle before, PodEvent e)
    {
        var source = VNodeMeshTelemetry.ActivitySource;
        if (!source.HasListeners())
        {
            return null;
        }

        var name = SpanNames.GetOrAdd(e.GetType(), static type => "pod " + type.Name);
        var caller = Activity.Current;
        if (state.Trace is null || !ActivityContext.TryParse(state.Trace, null, out var lifecycle))
        {
            if (!sampler.Traces(uid))
            {
                return null;
            }

            // A root: without this, the span would join the trace of whatever call brought the pod.
            if (caller is not null)
            {
                Activity.Current = null;
            }

            var root = source.StartActivity(name, ActivityKind.Internal, default(ActivityContext),
                tags: [new(PodUidTag, uid.ToString())], links: LinkTo(caller, default));
            if (root is null)
            {
                if (caller is not null)
                {
                    Activity.Current = caller;
                }

                return null;
            }

            state.Trace = root.Id;
            return root;
        }

        return InStartup(before)
            ? source.StartActivity(name, ActivityKind.Internal, lifecycle, links: LinkTo(caller, lifecycle.TraceId))
            : source.StartActivity(name, ActivityKind.Internal, parentContext: default, links: [new ActivityLink(lifecycle)]);
    }

    /// <summary>Names the pod and the step's outcome on its span; a failed operation or a failed pod is an error.</summary>
    public static void Describe(Activity activity, Guid uid, PodState state, PodLifecycle before, PodLifecycle after, string eventName, string? errorCode)
    {
        if (!activity.IsAllDataRequested)
        {
            return;
        }

        TagPod(activity, uid, state);
        activity.SetTag("vnodemesh.pod.event", eventName);
        activity.SetTag("vnodemesh.pod.from", PodStageNames.Of(before.Stage));
        activity.SetTag("vnodemesh.pod.to", PodStageNames.Of(after.Stage));
        activity.SetTag("vnodemesh.pod.attempt", after.Attempts);
        if (after.InstanceId is { } instance)
        {
            activity.SetTag("vnodemesh.instance.id", instance);
        }

        if (errorCode is not null)
        {
            activity.SetTag("vnodemesh.error.code", errorCode);
            activity.SetTag("error.type", errorCode);
            activity.SetStatus(ActivityStatusCode.Error, after.Message);
        }
        else if (after.Stage == PodStage.Failed && before.Stage != PodStage.Failed)
        {
            activity.SetTag("error.type", after.Reason);
            activity.SetStatus(ActivityStatusCode.Error, after.Message);
        }
    }

    /// <summary>A span over the whole way from admission to Running, in the pod's lifecycle trace.</summary>
    public static void RecordStartup(Guid uid, PodState state, DateTimeOffset accepted, DateTimeOffset running)
    {
        if (state.Trace is null || !VNodeMeshTelemetry.ActivitySource.HasListeners() || !ActivityContext.TryParse(state.Trace, null, out var lifecycle))
        {
            return;
        }

        using var span = VNodeMeshTelemetry.ActivitySource.StartActivity(StartupSpan, ActivityKind.Internal, lifecycle, startTime: accepted);
        if (span is null)
        {
            return;
        }

        if (span.IsAllDataRequested)
        {
            TagPod(span, uid, state);
        }

        span.SetEndTime(running.UtcDateTime);
    }

    /// <summary>Until the pod first runs or ends, its steps belong to its lifecycle trace.</summary>
    public static bool InStartup(PodLifecycle lifecycle) =>
        lifecycle.RunningAt is null && lifecycle.Stage is not (PodStage.Succeeded or PodStage.Failed or PodStage.Deleted);

    private static void TagPod(Activity activity, Guid uid, PodState state)
    {
        activity.SetTag(PodUidTag, uid.ToString());
        activity.SetTag("k8s.namespace.name", state.Namespace);
        activity.SetTag("k8s.pod.name", state.Name);
        activity.SetTag("k8s.node.name", state.Node);
    }

    private static ActivityLink[]? LinkTo(Activity? caller, ActivityTraceId trace) =>
        caller is null || caller.TraceId == trace ? null : [new ActivityLink(caller.Context)];
}
