using OpenTelemetry.Trace;
using VNodeMesh.Grains;

namespace VNodeMesh.Silo.Telemetry;

/// <summary>
/// Decides at a trace's root: a pod's lifecycle as <see cref="PodTraceSampler"/> chose it from the pod's UID before
/// the root started; anything else (an HTTP request) by its trace ID, at the same ratio.
/// </summary>
internal sealed class TraceRootSampler(PodTraceSampler pods) : Sampler
{
    private static readonly SamplingResult Sampled = new(SamplingDecision.RecordAndSample);
    private static readonly SamplingResult Dropped = new(SamplingDecision.Drop);
    private readonly TraceIdRatioBasedSampler _others = new(pods.Ratio);

    public override SamplingResult ShouldSample(in SamplingParameters parameters)
    {
        if (parameters.Tags is { } tags)
        {
            foreach (var (key, value) in tags)
            {
                if (key == PodTracing.PodUidTag && value is string uid && Guid.TryParse(uid, out var pod))
                {
                    return pods.Traces(pod) ? Sampled : Dropped;
                }
            }
        }

        return _others.ShouldSample(parameters);
    }
}
