using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Telemetry;

/// <summary>
/// A silo exporting over OTLP (http/protobuf) to a collector on 127.0.0.1 and serving <c>/metrics</c>, with pods run
/// through it before the tests look: some that run, one that fails at once, one that keeps being throttled.
/// </summary>
public sealed class TelemetrySiloFixture : IAsyncLifetime
{
    public const int RunningPods = 5;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public OtlpSink Collector { get; private set; } = null!;
    public TelemetrySilo Silo { get; private set; } = null!;
    public IReadOnlyList<Guid> Running { get; private set; } = [];
    public Guid FailedFast { get; private set; }
    public Guid Throttled { get; private set; }

    public async Task InitializeAsync()
    {
        Collector = await OtlpSink.StartAsync(keep: true);
        Silo = await TelemetrySilo.StartAsync(new Dictionary<string, string>
        {
            ["VNodeMesh:Telemetry:Otlp:Endpoint"] = Collector.Endpoint.ToString(),
            ["VNodeMesh:Telemetry:Otlp:Protocol"] = "http/protobuf",
            ["VNodeMesh:Telemetry:Otlp:MetricExportInterval"] = "00:00:00.500",
            ["VNodeMesh:Telemetry:Traces:SamplingRatio"] = "1",
            ["VNodeMesh:Telemetry:Traces:Orleans"] = "true",
            ["VNodeMesh:Telemetry:Metrics:Orleans"] = "true",
        });

        var running = Enumerable.Range(0, RunningPods).Select(i => TestPods.Create($"telemetry-{i}")).ToList();
        var failFast = TestPods.Create("telemetry-fail-fast", new Dictionary<string, string>
        {
            [PodAnnotations.FailStrategy] = "fail-fast",
            [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock",
        });
        var throttled = TestPods.Create("telemetry-throttled", new Dictionary<string, string> { [SimulatorAnnotations.FailCreate] = "Throttling.User" });
        await Silo.SubmitAsync([.. running, failFast, throttled]);

        Running = running.Select(p => p.Uid()).ToList();
        FailedFast = failFast.Uid();
        Throttled = throttled.Uid();
        foreach (var uid in Running)
        {
            await Silo.WaitForAsync(uid, s => s.Stage == PodStage.Running, Timeout);
        }

        await Silo.WaitForAsync(FailedFast, s => s.Stage == PodStage.Failed, Timeout);
        await Silo.WaitForAsync(Throttled, s => s.Attempts >= 2, Timeout);
    }

    public async Task DisposeAsync()
    {
        await Silo.DisposeAsync();
        await Collector.DisposeAsync();
    }
}

/// <summary>The silo's telemetry over real HTTP: a Prometheus scrape of <c>/metrics</c>, and what an OTLP collector receives.</summary>
public sealed class TelemetryTests(TelemetrySiloFixture fixture) : IClassFixture<TelemetrySiloFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_scrape_shows_pods_by_stage_provider_calls_and_startup_latency()
    {
        var node = fixture.Silo.Node;
        // The node learns stages in batches: the scrape is read until it has caught up.
        var text = await fixture.Silo.ScrapeUntilAsync(t => PrometheusText.Samples(t, "vnodemesh_pods")
            .Any(s => s.Has("node", node) && s.Has("stage", "Running") && s.Value == TelemetrySiloFixture.RunningPods), Patience);

        Assert.Contains(PrometheusText.Samples(text, "vnodemesh_pods"), s => s.Has("node", node) && s.Has("stage", "Failed") && s.Value == 1);
        Assert.Contains("Pods known to each virtual node", PrometheusText.Metadata(text, "HELP", "vnodemesh_pods"));
        Assert.Equal("# TYPE vnodemesh_pods gauge", PrometheusText.Metadata(text, "TYPE", "vnodemesh_pods"));

        // The meter is the process's: other silos in this process may add to the counters, never take away.
        var creates = PrometheusText.Samples(text, "vnodemesh_provider_calls_total").Where(s => s.Has("operation", "create") && s.Has("outcome", "ok")).Sum(s => s.Value);
        Assert.True(creates >= TelemetrySiloFixture.RunningPods, $"{creates} successful creates counted");
        Assert.Contains(PrometheusText.Samples(text, "vnodemesh_provider_calls_total"),
            s => s.Has("operation", "create") && s.Has("outcome", "NoStock") && s.Has("code", "OperationDenied.NoStock") && s.Value >= 1);
        Assert.Contains(PrometheusText.Samples(text, "vnodemesh_provider_throttles_total"),
            s => s.Has("operation", "create") && s.Has("code", "Throttling.User") && s.Value >= 1);
        Assert.Contains(PrometheusText.Samples(text, "vnodemesh_pod_backoff_delay_seconds_count"),
            s => s.Has("stage", "BackingOff") && s.Has("code", "Throttling.User") && s.Value >= 1);

        Assert.Equal("# TYPE vnodemesh_pod_startup_duration_seconds histogram", PrometheusText.Metadata(text, "TYPE", "vnodemesh_pod_startup_duration_seconds"));
        var started = PrometheusText.Samples(text, "vnodemesh_pod_startup_duration_seconds_count").Sum(s => s.Value);
        Assert.True(started >= TelemetrySiloFixture.RunningPods, $"{started} startups measured");
        var bounds = PrometheusText.Samples(text, "vnodemesh_pod_startup_duration_seconds_bucket").Select(s => s.Labels["le"]).ToHashSet();
        Assert.Superset(new HashSet<string> { "0.1", "1", "10", "60", "600", "+Inf" }, bounds);
        // Zero latency: every pod here ran within ten seconds of its admission.
        var withinTen = PrometheusText.Samples(text, "vnodemesh_pod_startup_duration_seconds_bucket").Where(s => s.Has("le", "10")).Sum(s => s.Value);
        Assert.True(withinTen >= TelemetrySiloFixture.RunningPods, $"{withinTen} startups within 10 s");

        Assert.Contains(PrometheusText.Samples(text, "vnodemesh_pod_transitions_total"), s => s.Has("stage", "Running") && s.Value >= TelemetrySiloFixture.RunningPods);
    }

    [Fact]
    public async Task A_pods_spans_share_one_trace_from_its_first_event_to_running()
    {
        var uid = fixture.Running[0].ToString();
        var spans = await WaitForSpansAsync(all => all.Any(s => s[PodUid] == uid && s.Name == "pod startup")
            && all.Any(s => s[PodUid] == uid && s["vnodemesh.pod.to"] == "Running"));
        var pod = spans.Where(s => s[PodUid] == uid).ToList();

        var root = Assert.Single(pod, s => s.ParentSpanId.Length == 0);
        Assert.Equal("pod Admitted", root.Name);
        Assert.Equal("New", root["vnodemesh.pod.from"]);
        Assert.Equal("Creating", root["vnodemesh.pod.to"]);
        Assert.Equal(fixture.Silo.Node, root["k8s.node.name"]);
        Assert.Equal("tests", root["k8s.namespace.name"]);
        Assert.Equal("telemetry-0", root["k8s.pod.name"]);
        Assert.Equal(VNodeMesh.Grains.VNodeMeshTelemetry.Name, root.Scope);

        // Every step to Running is in the root's trace, as its child.
        var running = Assert.Single(pod, s => s["vnodemesh.pod.to"] == "Running" && s["vnodemesh.pod.from"] != "Running");
        Assert.All(pod, s => Assert.Equal(root.TraceId, s.TraceId));
        Assert.All(pod.Where(s => s != root), s => Assert.Equal(root.SpanId, s.ParentSpanId));
        Assert.NotNull(running["vnodemesh.instance.id"]);

        var startup = Assert.Single(pod, s => s.Name == "pod startup");
        Assert.True(startup.End > startup.Start, "the startup span covers admission to Running");

        // Orleans' own spans join the trace: the provider's outcome came back to the grain as a traced grain call.
        Assert.Contains(spans, s => s.TraceId == root.TraceId && s.Scope.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_create_is_an_error_span_with_its_code()
    {
        var uid = fixture.FailedFast.ToString();
        var spans = await WaitForSpansAsync(all => all.Any(s => s[PodUid] == uid && s["vnodemesh.pod.to"] == "Failed"));
        var failed = Assert.Single(spans, s => s[PodUid] == uid && s["vnodemesh.pod.to"] == "Failed");

        Assert.Equal("pod CreateFailed", failed.Name);
        Assert.Equal(2, failed.StatusCode); // STATUS_CODE_ERROR
        Assert.Equal("OperationDenied.NoStock", failed["vnodemesh.error.code"]);
        Assert.Contains("fail-fast", failed.StatusMessage);
    }

    [Fact]
    public async Task The_collector_receives_the_metrics_over_otlp()
    {
        var node = fixture.Silo.Node;
        var deadline = DateTime.UtcNow + Patience;
        while (!fixture.Collector.Metrics.Any(m => m.Name == "vnodemesh.pods" && m.Points.Any(p => p.Attributes.GetValueOrDefault("node") == node
            && p.Attributes.GetValueOrDefault("stage") == "Running" && p.Value == TelemetrySiloFixture.RunningPods)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no export of vnodemesh.pods with the node's running pods");
            await Task.Delay(200);
        }

        var metrics = fixture.Collector.Metrics;
        var startup = metrics.Last(m => m.Name == "vnodemesh.pod.startup.duration");
        Assert.Equal(("s", "histogram"), (startup.Unit, startup.Kind));
        Assert.True(startup.Points.Sum(p => p.Value) >= TelemetrySiloFixture.RunningPods);
        Assert.Contains(metrics, m => m.Name == "vnodemesh.provider.calls" && m.Kind == "sum" && m.Unit == "{call}");
        Assert.Contains(metrics, m => m.Name == "vnodemesh.pod.backoff.delay" && m.Kind == "histogram");
        Assert.All(metrics.Where(m => m.Name.StartsWith("vnodemesh.", StringComparison.Ordinal)), m => Assert.Equal("VNodeMesh", m.Scope));
        Assert.Contains(metrics, m => m.Scope == "Microsoft.Orleans"); // asked for with Metrics:Orleans
    }

    private const string PodUid = "k8s.pod.uid";

    private async Task<IReadOnlyList<OtlpSpan>> WaitForSpansAsync(Func<IReadOnlyList<OtlpSpan>, bool> done)
    {
        // Spans leave in batches (every 5 s by default).
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var spans = fixture.Collector.Spans;
            if (done(spans))
            {
                return spans;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the collector has {spans.Count} spans, not the ones expected");
            await Task.Delay(250);
        }
    }
}
