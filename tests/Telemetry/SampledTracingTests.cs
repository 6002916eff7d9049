using VNodeMesh.Grains;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Telemetry;

/// <summary>A silo tracing a share of its pods, over OTLP (http/protobuf) to a collector on 127.0.0.1.</summary>
public sealed class SampledTracingTests
{
    private const double Ratio = 0.4;

    [Fact]
    public async Task A_silo_exports_the_whole_lifecycle_of_the_pods_its_ratio_chooses_and_nothing_of_the_others()
    {
        await using var collector = await OtlpSink.StartAsync(keep: true);
        await using var silo = await TelemetrySilo.StartAsync(new Dictionary<string, string>
        {
            ["VNodeMesh:Telemetry:Otlp:Endpoint"] = collector.Endpoint.ToString(),
            ["VNodeMesh:Telemetry:Otlp:Protocol"] = "http/protobuf",
            ["VNodeMesh:Telemetry:Traces:SamplingRatio"] = Ratio.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        var pods = Enumerable.Range(0, 40).Select(i => TestPods.Create($"sampled-{i}")).ToList();
        await silo.SubmitAsync([.. pods]);
        var uids = pods.Select(p => p.Uid()).ToList();
        foreach (var uid in uids)
        {
            await silo.WaitForAsync(uid, s => s.Stage == PodStage.Running, TimeSpan.FromSeconds(60));
        }

        var chosen = uids.Where(new PodTraceSampler(Ratio).Traces).Select(uid => uid.ToString()).ToHashSet();
        Assert.InRange(chosen.Count, 1, uids.Count - 1); // a UID set that tests both sides
        // Spans leave in batches: wait for every chosen pod's startup span.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!chosen.IsSubsetOf(collector.Spans.Where(s => s.Name == PodTracing.StartupSpan).Select(s => s[PodTracing.PodUidTag] ?? "")))
        {
            Assert.True(DateTime.UtcNow < deadline, "the startup span of a chosen pod never reached the collector");
            await Task.Delay(250);
        }

        var ours = uids.Select(uid => uid.ToString()).ToHashSet();
        var traced = collector.Spans.Where(s => s[PodTracing.PodUidTag] is { } uid && ours.Contains(uid)).GroupBy(s => s[PodTracing.PodUidTag]!).ToList();
        Assert.True(chosen.SetEquals(traced.Select(pod => pod.Key)), "the pods traced are not the ones the ratio chose");
        Assert.All(traced, pod =>
        {
            var root = Assert.Single(pod, s => s.ParentSpanId.Length == 0 && s.Name == "pod Admitted");
            Assert.Equal(root.TraceId, Assert.Single(pod, s => s.Name == PodTracing.StartupSpan).TraceId);
        });
    }
}
