using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// An OTLP/HTTP receiver on 127.0.0.1 (<c>/v1/traces</c>, <c>/v1/metrics</c>, protobuf): the collector a burst with
/// telemetry exports to. It decodes what it receives, counts it, and keeps it when asked to.
/// </summary>
public sealed class OtlpSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _keep;
    private readonly ConcurrentQueue<OtlpSpan> _spans = new();
    private readonly ConcurrentQueue<OtlpMetric> _metrics = new();
    private long _traceExports, _metricExports, _spanCount, _metricPoints, _bytes;

    private OtlpSink(WebApplication app, bool keep)
    {
        _app = app;
        _keep = keep;
    }

    /// <summary>The base address to configure as the OTLP endpoint (protocol http/protobuf).</summary>
    public Uri Endpoint { get; private set; } = null!;

    public long TraceExports => Interlocked.Read(ref _traceExports);
    public long MetricExports => Interlocked.Read(ref _metricExports);
    public long SpansReceived => Interlocked.Read(ref _spanCount);
    public long MetricPointsReceived => Interlocked.Read(ref _metricPoints);
    public long BytesReceived => Interlocked.Read(ref _bytes);

    /// <summary>The spans received so far (only with <c>keep</c>).</summary>
    public IReadOnlyList<OtlpSpan> Spans => [.. _spans];

    /// <summary>The metrics received so far, one entry per metric per export (only with <c>keep</c>).</summary>
    public IReadOnlyList<OtlpMetric> Metrics => [.. _metrics];

    /// <param name="keep">Keep every span and metric received, for assertions; a burst only counts them.</param>
    public static async Task<OtlpSink> StartAsync(bool keep = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var sink = new OtlpSink(app, keep);
        app.MapPost("/v1/traces", context => sink.ReceiveAsync(context, traces: true));
        app.MapPost("/v1/metrics", context => sink.ReceiveAsync(context, traces: false));
        await app.StartAsync();
        sink.Endpoint = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return sink;
    }

    private async Task ReceiveAsync(HttpContext context, bool traces)
    {
        // A pooled buffer: an export is hundreds of kilobytes, and fresh arrays that size cost the silos' GC.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(context.Request.ContentLength ?? 0, 4096, 64 << 20));
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            Count(buffer.AsSpan(0, length), traces);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        // An empty Export*ServiceResponse: everything accepted.
        context.Response.ContentType = "application/x-protobuf";
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    private void Count(ReadOnlySpan<byte> body, bool traces)
    {
        Interlocked.Add(ref _bytes, body.Length);
        // A burst only counts, without allocating: the collector shares the silos' process and cores.
        if (traces)
        {
            Interlocked.Increment(ref _traceExports);
            Interlocked.Add(ref _spanCount, OtlpDecoder.CountSpans(body));
            if (_keep)
            {
                OtlpDecoder.Spans(body).ForEach(_spans.Enqueue);
            }
        }
        else
        {
            Interlocked.Increment(ref _metricExports);
            Interlocked.Add(ref _metricPoints, OtlpDecoder.CountDataPoints(body));
            if (_keep)
            {
                OtlpDecoder.Metrics(body).ForEach(_metrics.Enqueue);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One span as received: ids in lowercase hex, attributes with their values as text.</summary>
public sealed record OtlpSpan(
    string Scope, string TraceId, string SpanId, string ParentSpanId, string Name,
    IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<(string TraceId, string SpanId)> Links,
    int StatusCode, string StatusMessage, DateTime Start, DateTime End)
{
    public string? this[string attribute] => Attributes.GetValueOrDefault(attribute);
}

/// <summary>One data point: its attributes, and its value (a histogram's count).</summary>
public sealed record OtlpPoint(IReadOnlyDictionary<string, string> Attributes, double Value);

public sealed record OtlpMetric(string Scope, string Name, string Unit, string Kind, IReadOnlyList<OtlpPoint> Points);

/// <summary>
/// Just enough of the OTLP protobuf messages (opentelemetry-proto, trace and metrics v1) to read spans and data points,
/// straight from the wire format: no generated code is needed for a receiver this small.
/// </summary>
public static class OtlpDecoder
{
    public static List<OtlpSpan> Spans(ReadOnlySpan<byte> exportTraceServiceRequest)
    {
        var spans = new List<OtlpSpan>();
        foreach (var resourceSpans in Fields(exportTraceServiceRequest.ToArray(), 1))
        {
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                var scope = ScopeName(scopeSpans);
                foreach (var span in Fields(scopeSpans, 2))
                {
                    spans.Add(Span(scope, span));
                }
            }
        }

        return spans;
    }

    public static List<OtlpMetric> Metrics(ReadOnlySpan<byte> exportMetricsServiceRequest)
    {
        var metrics = new List<OtlpMetric>();
        foreach (var resourceMetrics in Fields(exportMetricsServiceRequest.ToArray(), 1))
        {
            foreach (var scopeMetrics in Fields(resourceMetrics, 2))
            {
                var scope = ScopeName(scopeMetrics);
                foreach (var metric in Fields(scopeMetrics, 2))
                {
                    metrics.Add(Metric(scope, metric));
                }
            }
        }

        return metrics;
    }

    /// <summary>Spans in an ExportTraceServiceRequest: resource_spans = 1, scope_spans = 2, spans = 2.</summary>
    public static int CountSpans(ReadOnlySpan<byte> request) => Count(request, [1, 2, 2]);

    /// <summary>Data points in an ExportMetricsServiceRequest: resource_metrics = 1, scope_metrics = 2, metrics = 2, then gauge, sum or histogram, data_points = 1.</summary>
    public static int CountDataPoints(ReadOnlySpan<byte> request) => Count(request, [1, 2, 2, 0, 1]);

    /// <summary>Length-delimited fields along a path of field numbers (0: any field) counted where the path ends.</summary>
    private static int Count(ReadOnlySpan<byte> message, ReadOnlySpan<int> path)
    {
        var count = 0;
        var position = 0;
        while (position < message.Length)
        {
            var tag = Varint(message, ref position);
            var (field, wire) = ((int)(tag >> 3), (int)(tag & 7));
            switch (wire)
            {
                case 0:
                    Varint(message, ref position);
                    break;
                case 1:
                    position += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref position);
                    if (path[0] == 0 ? field is 5 or 7 or 9 or 10 or 11 : field == path[0])
                    {
                        count += path.Length == 1 ? 1 : Count(message.Slice(position, length), path[1..]);
                    }

                    position += length;
                    break;
                case 5:
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {wire} (field {field}) is not supported");
            }
        }

        return count;
    }

    private static string ScopeName(byte[] scoped) =>
        Fields(scoped, 1).Select(scope => Text(Fields(scope, 1).FirstOrDefault())).FirstOrDefault() ?? "";

    private static OtlpSpan Span(string scope, byte[] span)
    {
        string traceId = "", spanId = "", parent = "", name = "", statusMessage = "";
        var statusCode = 0;
        ulong start = 0, end = 0;
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var links = new List<(string, string)>();
        foreach (var (field, wire, value, bytes) in Read(span))
        {
            switch (field)
            {
                case 1: traceId = Convert.ToHexStringLower(bytes!); break;
                case 2: spanId = Convert.ToHexStringLower(bytes!); break;
                case 4: parent = Convert.ToHexStringLower(bytes!); break;
                case 5: name = Text(bytes); break;
                case 7 when wire == 1: start = value; break;
                case 8 when wire == 1: end = value; break;
                case 9: AddAttribute(attributes, bytes!); break;
                case 13:
                    links.Add((Convert.ToHexStringLower(Fields(bytes!, 1).FirstOrDefault() ?? []), Convert.ToHexStringLower(Fields(bytes!, 2).FirstOrDefault() ?? [])));
                    break;
                case 15:
                    foreach (var (statusField, _, statusValue, statusBytes) in Read(bytes!))
                    {
                        if (statusField == 2)
                        {
                            statusMessage = Text(statusBytes);
                        }
                        else if (statusField == 3)
                        {
                            statusCode = (int)statusValue;
                        }
                    }

                    break;
            }
        }

        return new OtlpSpan(scope, traceId, spanId, parent, name, attributes, links, statusCode, statusMessage, FromUnixNano(start), FromUnixNano(end));
    }

    private static OtlpMetric Metric(string scope, byte[] metric)
    {
        string name = "", unit = "", kind = "";
        var points = new List<OtlpPoint>();
        foreach (var (field, _, _, bytes) in Read(metric))
        {
            switch (field)
            {
                case 1: name = Text(bytes); break;
                case 3: unit = Text(bytes); break;
                case 5 or 7: // gauge, sum: NumberDataPoint = 1
                    kind = field == 5 ? "gauge" : "sum";
                    points.AddRange(Fields(bytes!, 1).Select(NumberPoint));
                    break;
                case 9: // histogram: HistogramDataPoint = 1, count = 4
                    kind = "histogram";
                    points.AddRange(Fields(bytes!, 1).Select(HistogramPoint));
                    break;
            }
        }

        return new OtlpMetric(scope, name, unit, kind, points);
    }

    private static OtlpPoint NumberPoint(byte[] point)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        double value = 0;
        foreach (var (field, _, raw, bytes) in Read(point))
        {
            switch (field)
            {
                case 4: value = BitConverter.UInt64BitsToDouble(raw); break;
                case 6: value = (long)raw; break;
                case 7: AddAttribute(attributes, bytes!); break;
            }
        }

        return new OtlpPoint(attributes, value);
    }

    private static OtlpPoint HistogramPoint(byte[] point)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        double count = 0;
        foreach (var (field, _, raw, bytes) in Read(point))
        {
            switch (field)
            {
                case 4: count = raw; break;
                case 9: AddAttribute(attributes, bytes!); break;
            }
        }

        return new OtlpPoint(attributes, count);
    }

    /// <summary>KeyValue { key = 1; AnyValue value = 2 { string = 1; bool = 2; int = 3; double = 4 } }.</summary>
    private static void AddAttribute(Dictionary<string, string> attributes, byte[] keyValue)
    {
        var key = Text(Fields(keyValue, 1).FirstOrDefault());
        var text = "";
        foreach (var any in Fields(keyValue, 2))
        {
            foreach (var (field, _, raw, bytes) in Read(any))
            {
                text = field switch
                {
                    1 => Text(bytes),
                    2 => raw != 0 ? "true" : "false",
                    3 => ((long)raw).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    4 => BitConverter.UInt64BitsToDouble(raw).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    _ => text,
                };
            }
        }

        attributes[key] = text;
    }

    private static IEnumerable<byte[]> Fields(byte[] message, int number) =>
        Read(message).Where(f => f.Field == number && f.Bytes is not null).Select(f => f.Bytes!);

    /// <summary>The fields of a message: varints and fixed values as numbers, length-delimited ones as bytes.</summary>
    private static List<(int Field, int Wire, ulong Value, byte[]? Bytes)> Read(byte[] message)
    {
        var fields = new List<(int, int, ulong, byte[]?)>();
        var position = 0;
        while (position < message.Length)
        {
            var tag = Varint(message, ref position);
            var (field, wire) = ((int)(tag >> 3), (int)(tag & 7));
            switch (wire)
            {
                case 0:
                    fields.Add((field, wire, Varint(message, ref position), null));
                    break;
                case 1:
                    fields.Add((field, wire, BitConverter.ToUInt64(message, position), null));
                    position += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref position);
                    fields.Add((field, wire, 0, message[position..(position + length)]));
                    position += length;
                    break;
                case 5:
                    fields.Add((field, wire, BitConverter.ToUInt32(message, position), null));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {wire} (field {field}) is not supported");
            }
        }

        return fields;
    }

    private static ulong Varint(ReadOnlySpan<byte> message, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }

    private static string Text(byte[]? bytes) => bytes is null ? "" : Encoding.UTF8.GetString(bytes);

    private static DateTime FromUnixNano(ulong nanoseconds) => DateTime.UnixEpoch.AddTicks((long)(nanoseconds / 100));
}
