using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Diagnostics;
using VNodeMesh.Grains;

namespace VNodeMesh.Silo.Telemetry;

public static class TelemetryExtensions
{
    /// <summary>Orleans' meter: grain calls, activations, messaging, storage.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>
    /// OpenTelemetry for a silo host, from <c>VNodeMesh:Telemetry</c> (validated at start-up): VNodeMesh's meter and
    /// spans, Orleans' meter, ASP.NET Core and HttpClient, and with <c>Traces:Orleans</c> Orleans' activity sources with
    /// activity propagation through grain calls; metrics to the Prometheus scrape endpoint (<see cref="MapVNodeMeshTelemetry"/>)
    /// and OTLP, traces to OTLP. Nothing is collected that nothing exports: without an OTLP endpoint no span is made.
    /// </summary>
    public static IHostApplicationBuilder AddVNodeMeshTelemetry(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(TelemetryOptions.Section);
        builder.Services.AddOptions<TelemetryOptions>().Bind(section).ValidateDataAnnotations().ValidateOnStart();
        // What to register is decided now; a value the validation refuses stops the host before anything runs.
        var options = section.Get<TelemetryOptions>() ?? new TelemetryOptions();
        builder.Services.AddSingleton(new TelemetryPlan(options.MetricsEnabled && options.Prometheus.Enabled, options.Prometheus.Path));
        if (!options.MetricsEnabled && !options.TracesEnabled)
        {
            return builder;
        }

        var telemetry = builder.Services.AddOpenTelemetry().ConfigureResource(resource =>
        {
            if (!ServiceNamedByEnvironment())
            {
                resource.AddService(options.ServiceName);
            }
        });

        if (options.MetricsEnabled)
        {
            telemetry.WithMetrics(metrics =>
            {
                metrics.AddMeter(VNodeMeshTelemetry.Name);
                if (options.Metrics.Orleans)
                {
                    metrics.AddMeter(OrleansMeter);
                }

                if (options.Metrics.Runtime)
                {
                    metrics.AddMeter("System.Runtime").AddAspNetCoreInstrumentation().AddHttpClientInstrumentation();
                }

                if (options.Prometheus.Enabled)
                {
                    metrics.AddPrometheusExporter(prometheus => prometheus.ScrapeEndpointPath = options.Prometheus.Path);
                }

                if (options.Otlp.IsEnabled)
                {
                    metrics.AddOtlpExporter((exporter, reader) =>
                    {
                        Configure(exporter, options.Otlp, "v1/metrics");
                        if (options.Otlp.MetricExportInterval is { } interval)
                        {
                            reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)interval.TotalMilliseconds;
                        }
                    });
                }
            });
        }

        if (options.TracesEnabled)
        {
            var pods = new PodTraceSampler(SamplingRatio(options.Traces));
            builder.Services.AddSingleton(pods);
            telemetry.WithTracing(tracing =>
            {
                tracing.AddSource(VNodeMeshTelemetry.Name);
                if (options.Traces.Orleans)
                {
                    tracing.AddSource(ActivitySources.AllActivitySourceName);
                }

                tracing.AddAspNetCoreInstrumentation(aspnet => aspnet.Filter = context => !IsProbeOrScrape(context.Request.Path, options.Prometheus.Path))
                    .AddHttpClientInstrumentation()
                    // The ratio decides at a trace's root: a pod's lifecycle trace is kept or dropped whole.
                    .SetSampler(new ParentBasedSampler(new TraceRootSampler(pods)))
                    .AddOtlpExporter(exporter => Configure(exporter, options.Otlp, "v1/traces"));
            });
            if (options.Traces.Orleans)
            {
                builder.UseOrleans(silo => silo.AddActivityPropagation());
            }
        }

        return builder;
    }

    /// <summary>The Prometheus scrape endpoint (<c>/metrics</c>), when <see cref="AddVNodeMeshTelemetry"/> enabled it.</summary>
    public static IEndpointRouteBuilder MapVNodeMeshTelemetry(this IEndpointRouteBuilder endpoints)
    {
        if (endpoints.ServiceProvider.GetService<TelemetryPlan>() is { Prometheus: true } plan)
        {
            endpoints.MapPrometheusScrapingEndpoint(plan.PrometheusPath);
        }

        return endpoints;
    }

    /// <summary>
    /// An endpoint set here is the collector's base address, as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is: over
    /// http/protobuf each signal goes to its own path under it. Left unset, the environment decides.
    /// </summary>
    private static void Configure(OtlpExporterOptions exporter, OtlpTelemetryOptions otlp, string signalPath)
    {
        if (otlp.Protocol is not null && OtlpTelemetryOptions.ParseProtocol(otlp.Protocol) is { } protocol)
        {
            exporter.Protocol = protocol;
        }

        if (!string.IsNullOrEmpty(otlp.Endpoint) && Uri.TryCreate(otlp.Endpoint, UriKind.Absolute, out var endpoint))
        {
            exporter.Endpoint = exporter.Protocol == OtlpExportProtocol.HttpProtobuf
                ? new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath)
                : endpoint;
        }

        if (otlp.Timeout is { } timeout)
        {
            exporter.TimeoutMilliseconds = (int)timeout.TotalMilliseconds;
        }
    }

    /// <summary>The ratio, kept in range until the validation stops the host with a message naming it.</summary>
    private static double SamplingRatio(TracesTelemetryOptions traces) => double.IsNaN(traces.SamplingRatio) ? 1 : Math.Clamp(traces.SamplingRatio, 0, 1);

    private static bool ServiceNamedByEnvironment() =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME"))
        || (Environment.GetEnvironmentVariable("OTEL_RESOURCE_ATTRIBUTES")?.Contains("service.name=", StringComparison.Ordinal) ?? false);

    private static bool IsProbeOrScrape(PathString path, string metricsPath) =>
        path.StartsWithSegments("/healthz", StringComparison.Ordinal) || path.StartsWithSegments(metricsPath, StringComparison.Ordinal);

    /// <summary>What <see cref="AddVNodeMeshTelemetry"/> set up that the HTTP pipeline serves.</summary>
    private sealed record TelemetryPlan(bool Prometheus, string PrometheusPath);
}
