using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Telemetry;

/// <summary>
/// OpenTelemetry (section <c>VNodeMesh:Telemetry</c>): a Prometheus scrape endpoint on the silo's HTTP port, and an
/// OTLP exporter of traces and metrics. The standard <c>OTEL_*</c> environment variables still apply
/// (<c>OTEL_SERVICE_NAME</c>, <c>OTEL_RESOURCE_ATTRIBUTES</c>, <c>OTEL_EXPORTER_OTLP_*</c>, <c>OTEL_BSP_*</c>, ...).
/// </summary>
public sealed class TelemetryOptions : IValidatableObject
{
    public const string Section = "VNodeMesh:Telemetry";

    /// <summary>The <c>service.name</c> resource attribute; <c>OTEL_SERVICE_NAME</c> wins when set.</summary>
    public string ServiceName { get; set; } = "vnodemesh";

    public PrometheusTelemetryOptions Prometheus { get; set; } = new();

    public OtlpTelemetryOptions Otlp { get; set; } = new();

    public TracesTelemetryOptions Traces { get; set; } = new();

    public MetricsTelemetryOptions Metrics { get; set; } = new();

    /// <summary>Whether any metrics are exported: to the scrape endpoint, or over OTLP.</summary>
    public bool MetricsEnabled => Prometheus.Enabled || Otlp.IsEnabled;

    /// <summary>Spans are only made when something exports them (OTLP is the only trace exporter) and some are kept.</summary>
    public bool TracesEnabled => Traces.Enabled && Traces.SamplingRatio > 0 && Otlp.IsEnabled;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(ServiceName))
        {
            yield return new($"{Section}:ServiceName must not be empty", [nameof(ServiceName)]);
        }

        if (string.IsNullOrEmpty(Prometheus.Path) || Prometheus.Path[0] != '/' || Prometheus.Path.Contains('?') || Prometheus.Path.Contains('#'))
        {
            yield return new($"{Section}:Prometheus:Path '{Prometheus.Path}' is not an absolute path such as /metrics", ["Prometheus.Path"]);
        }

        if (!string.IsNullOrEmpty(Otlp.Endpoint)
            && (!Uri.TryCreate(Otlp.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https")))
        {
            yield return new($"{Section}:Otlp:Endpoint '{Otlp.Endpoint}' is not an http:// or https:// URL", ["Otlp.Endpoint"]);
        }

        if (Otlp.Protocol is not null && OtlpTelemetryOptions.ParseProtocol(Otlp.Protocol) is null)
        {
            yield return new($"{Section}:Otlp:Protocol '{Otlp.Protocol}' is neither 'grpc' nor 'http/protobuf'", ["Otlp.Protocol"]);
        }

        if (Otlp.MetricExportInterval is { } interval && (interval < TimeSpan.FromMilliseconds(100) || interval > TimeSpan.FromHours(1)))
        {
            yield return new($"{Section}:Otlp:MetricExportInterval {interval} is not between 100 ms and 1 hour", ["Otlp.MetricExportInterval"]);
        }

        if (Otlp.Timeout is { } timeout && (timeout < TimeSpan.FromMilliseconds(100) || timeout > TimeSpan.FromMinutes(10)))
        {
            yield return new($"{Section}:Otlp:Timeout {timeout} is not between 100 ms and 10 minutes", ["Otlp.Timeout"]);
        }

        if (double.IsNaN(Traces.SamplingRatio) || Traces.SamplingRatio is < 0 or > 1)
        {
            yield return new($"{Section}:Traces:SamplingRatio {Traces.SamplingRatio} is not between 0 and 1", ["Traces.SamplingRatio"]);
        }
    }
}

public sealed class PrometheusTelemetryOptions
{
    /// <summary>Serve the scrape endpoint on the silo's HTTP port (<c>VNodeMesh:Http</c>).</summary>
    public bool Enabled { get; set; } = true;

    public string Path { get; set; } = "/metrics";
}

public sealed class OtlpTelemetryOptions
{
    public const string Grpc = "grpc";
    public const string HttpProtobuf = "http/protobuf";

    /// <summary>
    /// The collector's base address (<c>http://collector:4317</c> for gRPC, <c>http://collector:4318</c> for
    /// http/protobuf, to which <c>/v1/traces</c> and <c>/v1/metrics</c> are added). Empty: OTLP is off, unless
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c>; unset: <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, else gRPC.</summary>
    public string? Protocol { get; set; }

    /// <summary>How often metrics are pushed; unset: <c>OTEL_METRIC_EXPORT_INTERVAL</c>, else 60 s.</summary>
    public TimeSpan? MetricExportInterval { get; set; }

    /// <summary>Each export's time limit; unset: <c>OTEL_EXPORTER_OTLP_TIMEOUT</c>, else 10 s.</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Whether OTLP export is on: an endpoint here, or in the environment.</summary>
    public bool IsEnabled => !string.IsNullOrEmpty(Endpoint) || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"));

    /// <summary>The exporter's protocol for a setting's value: <c>grpc</c>, <c>http/protobuf</c> (as OTEL_EXPORTER_OTLP_PROTOCOL spells them) or the enum's names.</summary>
    public static OpenTelemetry.Exporter.OtlpExportProtocol? ParseProtocol(string value) => value.ToLowerInvariant() switch
    {
        Grpc => OpenTelemetry.Exporter.OtlpExportProtocol.Grpc,
        HttpProtobuf or "httpprotobuf" or "http-protobuf" => OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf,
        _ => null,
    };
}

public sealed class TracesTelemetryOptions
{
    /// <summary>Make spans (VNodeMesh's pod lifecycle, Orleans' grain calls, HTTP) when OTLP is on.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The share of traces kept, decided at each trace's root: a pod's whole lifecycle trace is kept or not. A tenth by
    /// default: a burst of 50,000 pods still leaves 5,000 whole lifecycles to look at, at a fraction of the cost.
    /// </summary>
    public double SamplingRatio { get; set; } = 0.1;

    /// <summary>
    /// Also trace Orleans: its grain calls (with the trace context carried across silos), activations and storage.
    /// Off by default: Orleans then makes an activity for every grain call, traced or not, which costs a burst far
    /// more than VNodeMesh's own spans (see the README).
    /// </summary>
    public bool Orleans { get; set; }
}

public sealed class MetricsTelemetryOptions
{
    /// <summary>
    /// Also collect Orleans' own meter (<c>Microsoft.Orleans</c>: grain calls, activations, messaging, storage). Off by
    /// default: collecting it makes Orleans measure every message and storage operation.
    /// </summary>
    public bool Orleans { get; set; }

    /// <summary>Also collect the .NET runtime's, ASP.NET Core's and HttpClient's built-in meters.</summary>
    public bool Runtime { get; set; } = true;
}
