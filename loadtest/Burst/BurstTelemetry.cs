using System.Globalization;
using VNodeMesh.Silo.Telemetry;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>What the report says of the silos' telemetry in a run (<c>--telemetry on</c>): what was scraped and exported.</summary>
public sealed record TelemetryReport
{
    public bool Enabled { get; init; }
    /// <summary>The trace sampling ratio the silos ran with (<c>VNodeMesh:Telemetry:Traces:SamplingRatio</c>).</summary>
    public double? TraceSamplingRatio { get; init; }
    /// <summary>Whether Orleans was traced too (<c>--trace-orleans</c>).</summary>
    public bool? TraceOrleans { get; init; }
    public double? ScrapeIntervalSeconds { get; init; }
    public int Scrapes { get; init; }
    public int ScrapeFailures { get; init; }
    public long ScrapeBytes { get; init; }
    public double? MetricExportIntervalSeconds { get; init; }
    public long OtlpTraceExports { get; init; }
    /// <summary>Spans the collector received before the report was made (the exporters' queues drop what they cannot hold).</summary>
    public long SpansReceived { get; init; }
    public long OtlpMetricExports { get; init; }
    public long MetricPointsReceived { get; init; }
}

/// <summary>
/// Telemetry as a silo in production runs it, for a burst with <c>--telemetry on</c>: the full OpenTelemetry pipeline in
/// every silo (spans sampled as configured, metrics collected), OTLP export of both to a collector on 127.0.0.1, and a
/// Prometheus scrape of every silo every few seconds.
/// </summary>
public sealed class BurstTelemetry : IAsyncDisposable
{
    public static readonly TimeSpan ScrapeInterval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan MetricExportInterval = TimeSpan.FromSeconds(5);

    private readonly OtlpSink _sink;
    private readonly double _samplingRatio;
    private readonly bool _orleans;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly CancellationTokenSource _stop = new();
    private BackgroundLoop? _scraping;
    private int _scrapes, _scrapeFailures;
    private long _scrapeBytes;

    private BurstTelemetry(OtlpSink sink, double samplingRatio, bool orleans)
    {
        _sink = sink;
        _samplingRatio = samplingRatio;
        _orleans = orleans;
    }

    /// <returns>Null when the run is without telemetry.</returns>
    public static async Task<BurstTelemetry?> StartAsync(BurstSettings settings) =>
        settings.Telemetry
            ? new BurstTelemetry(await OtlpSink.StartAsync(), settings.TraceSamplingRatio ?? new TracesTelemetryOptions().SamplingRatio, settings.TraceOrleans)
            : null;

    /// <summary>The silos' <c>VNodeMesh:Telemetry</c> settings: export to this run's collector.</summary>
    public Dictionary<string, string?> SiloSettings(IReadOnlyDictionary<string, string?> settings)
    {
        var section = TelemetryOptions.Section;
        return new Dictionary<string, string?>(settings)
        {
            [$"{section}:Otlp:Endpoint"] = _sink.Endpoint.ToString(),
            [$"{section}:Otlp:Protocol"] = OtlpTelemetryOptions.HttpProtobuf,
            [$"{section}:Otlp:MetricExportInterval"] = MetricExportInterval.ToString("c", CultureInfo.InvariantCulture),
            [$"{section}:Traces:SamplingRatio"] = _samplingRatio.ToString(CultureInfo.InvariantCulture),
            [$"{section}:Traces:Orleans"] = _orleans ? "true" : "false",
        };
    }

    /// <summary>
    /// Scrapes every silo's <c>/metrics</c> once, as a Prometheus already watching the silos, then again every
    /// <see cref="ScrapeInterval"/> until disposed.
    /// </summary>
    public async Task StartScrapingAsync(IReadOnlyList<Uri> endpoints)
    {
        await ScrapeOnceAsync(endpoints);
        _scraping = BackgroundLoop.Every(ScrapeInterval, _ => ScrapeOnceAsync(endpoints));
    }

    private async Task ScrapeOnceAsync(IReadOnlyList<Uri> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            try
            {
                var body = await _http.GetByteArrayAsync(endpoint, _stop.Token);
                Interlocked.Increment(ref _scrapes);
                Interlocked.Add(ref _scrapeBytes, body.Length);
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref _scrapeFailures); // a killed silo
            }
        }
    }

    public TelemetryReport Report() => new()
    {
        Enabled = true,
        TraceSamplingRatio = _samplingRatio,
        TraceOrleans = _orleans,
        ScrapeIntervalSeconds = ScrapeInterval.TotalSeconds,
        Scrapes = Volatile.Read(ref _scrapes),
        ScrapeFailures = Volatile.Read(ref _scrapeFailures),
        ScrapeBytes = Interlocked.Read(ref _scrapeBytes),
        MetricExportIntervalSeconds = MetricExportInterval.TotalSeconds,
        OtlpTraceExports = _sink.TraceExports,
        SpansReceived = _sink.SpansReceived,
        OtlpMetricExports = _sink.MetricExports,
        MetricPointsReceived = _sink.MetricPointsReceived,
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_scraping is not null)
        {
            await _scraping.DisposeAsync();
        }
        _http.Dispose();
        _stop.Dispose();
        await _sink.DisposeAsync();
    }
}
