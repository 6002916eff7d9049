using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using VNodeMesh.Grains;
using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Tests.LoadTest;

namespace VNodeMesh.Tests.Telemetry;

/// <summary>
/// A pod's lifecycle is sampled once, at its first step, under OpenTelemetry's own ratio sampler: kept whole or
/// dropped whole, and a dropped one makes no more activities. Alone in its collection, so no other test's tracer
/// provider samples its spans.
/// </summary>
[Collection(nameof(BurstScenarioTests))]
public sealed class PodTracingTests
{
    [Fact]
    public void A_pods_lifecycle_is_traced_whole_or_not_at_all()
    {
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(VNodeMeshTelemetry.Name)
            .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(0.5)))
            .Build();
        PodEvent[] steps = [new Reactivated(), new InstanceMissing(), new TimerElapsed(), new TimerElapsed()];

        var pods = Enumerable.Range(0, 400).Select(_ =>
        {
            var state = new PodState();
            var (recorded, activities) = (0, 0);
            foreach (var step in steps)
            {
                using var span = PodTracing.StartStep(state, PodLifecycle.Initial, step);
                activities += span is null ? 0 : 1;
                recorded += span is { Recorded: true } ? 1 : 0;
            }

            return (Recorded: recorded, Activities: activities);
        }).ToList();

        Assert.All(pods, pod => Assert.True(pod.Recorded is 0 || pod.Recorded == steps.Length, $"a pod had {pod.Recorded} of its {steps.Length} steps traced"));
        // The sampler's dropped root still propagates its context; nothing after it is made.
        Assert.All(pods.Where(pod => pod.Recorded == 0), pod => Assert.True(pod.Activities <= 1, $"an untraced pod made {pod.Activities} activities"));
        Assert.InRange(pods.Count(pod => pod.Recorded > 0), 120, 280); // half of 400, give or take what a random trace id allows
    }
}
