using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;
using VNodeMesh.Grains;
using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Silo.Telemetry;
using VNodeMesh.Tests.LoadTest;

namespace VNodeMesh.Tests.Telemetry;

/// <summary>
/// A pod's lifecycle is sampled once, at its first step: kept whole or dropped whole. Alone in its collection, so no
/// other test's tracer provider samples its spans.
/// </summary>
[Collection(nameof(BurstScenarioTests))]
public sealed class PodTracingTests
{
    private static readonly PodEvent[] Steps = [new Reactivated(), new InstanceMissing(), new TimerElapsed(), new TimerElapsed()];

    [Fact]
    public void A_silo_traces_the_pods_its_ratio_chooses_whole_and_makes_no_activity_for_the_others()
    {
        var sampler = new PodTraceSampler(0.5);
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(VNodeMeshTelemetry.Name)
            .SetSampler(new ParentBasedSampler(new TraceRootSampler(sampler)))
            .Build();

        var pods = Enumerable.Range(0, 400).Select(_ => Trace(sampler, Guid.NewGuid())).ToList();

        Assert.All(pods, pod => Assert.True(pod.Recorded is 0 || pod.Recorded == Steps.Length, $"a pod had {pod.Recorded} of its {Steps.Length} steps traced"));
        Assert.All(pods, pod => Assert.Equal(pod.Recorded, pod.Activities));
        // Another silo, with a sampler of its own, chooses the same pods.
        var otherSilo = new PodTraceSampler(0.5);
        Assert.All(pods, pod => Assert.Equal(pod.Recorded > 0, otherSilo.Traces(pod.Uid)));
        Assert.InRange(pods.Count(pod => pod.Recorded > 0), 140, 260);
    }

    [Fact]
    public void Under_the_tracers_own_ratio_sampler_a_pods_lifecycle_is_traced_whole_or_not_at_all()
    {
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(VNodeMeshTelemetry.Name)
            .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(0.5)))
            .Build();

        var pods = Enumerable.Range(0, 400).Select(_ => Trace(PodTraceSampler.All, Guid.NewGuid())).ToList();

        Assert.All(pods, pod => Assert.True(pod.Recorded is 0 || pod.Recorded == Steps.Length, $"a pod had {pod.Recorded} of its {Steps.Length} steps traced"));
        // The sampler's dropped root still propagates its context; nothing after it is made.
        Assert.All(pods.Where(pod => pod.Recorded == 0), pod => Assert.True(pod.Activities <= 1, $"an untraced pod made {pod.Activities} activities"));
        Assert.InRange(pods.Count(pod => pod.Recorded > 0), 120, 280); // half of 400, give or take what a random trace id allows
    }

    [Fact]
    public void A_trace_that_is_not_a_pods_lifecycle_is_sampled_by_its_trace_id()
    {
        using var source = new ActivitySource(nameof(A_trace_that_is_not_a_pods_lifecycle_is_sampled_by_its_trace_id));
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(source.Name)
            .SetSampler(new ParentBasedSampler(new TraceRootSampler(new PodTraceSampler(0.25))))
            .Build();

        var recorded = Enumerable.Range(0, 800).Count(_ =>
        {
            using var request = source.StartActivity("GET /dashboard");
            return request is { Recorded: true };
        });

        Assert.InRange(recorded, 140, 260);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void The_share_of_pods_traced_is_the_ratio_for_random_and_for_time_ordered_uids(double ratio)
    {
        var sampler = new PodTraceSampler(ratio);
        const int pods = 20_000;
        // Binomial spread: four standard deviations either side.
        var spread = 4 * Math.Sqrt(pods * ratio * (1 - ratio));

        foreach (var uids in new[] { Enumerable.Range(0, pods).Select(_ => Guid.NewGuid()), Enumerable.Range(0, pods).Select(_ => Guid.CreateVersion7()) })
        {
            Assert.InRange(uids.Count(sampler.Traces), pods * ratio - spread, pods * ratio + spread);
        }
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_ratio_outside_zero_to_one_is_refused(double ratio)
    {
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => new PodTraceSampler(ratio));
        Assert.Contains("between 0 and 1", refused.Message);
    }

    private static (Guid Uid, int Recorded, int Activities) Trace(PodTraceSampler sampler, Guid uid)
    {
        var state = new PodState();
        var (recorded, activities) = (0, 0);
        foreach (var step in Steps)
        {
            using var span = PodTracing.StartStep(sampler, uid, state, PodLifecycle.Initial, step);
            activities += span is null ? 0 : 1;
            recorded += span is { Recorded: true } ? 1 : 0;
        }

        return (uid, recorded, activities);
    }
}
