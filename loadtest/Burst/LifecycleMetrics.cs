using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using HdrHistogram;
using VNodeMesh.Grains;
using VNodeMesh.Silo.Kubernetes;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>One kind of request VNodeMesh makes to the API server.</summary>
public readonly record struct ApiRequestKind(string Verb, string Resource, string Code)
{
    public static readonly IReadOnlySet<string> WriteVerbs = new HashSet<string> { "create", "update", "patch", "delete", "deletecollection" };

    public bool IsWrite => WriteVerbs.Contains(Verb);

    /// <summary>A write about a pod on its way to Running: its status or metadata, or an Event.</summary>
    public bool IsPodWrite => IsWrite && Resource is "pods" or "pods/status" or "events";
}

/// <summary>
/// Listens to VNodeMesh's own instruments in this process: pod startup latency, retries, and the
/// requests made to the Kubernetes API server (<see cref="ApiRequestMetrics.InstrumentName"/>).
/// </summary>
public sealed class LifecycleMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly LongConcurrentHistogram _startupMs = new(1, 24L * 3600 * 1000, 3);
    private readonly ConcurrentDictionary<ApiRequestKind, long> _apiRequests = new();
    private long _retries;

    public LifecycleMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == VNodeMeshTelemetry.Name
                && instrument.Name is PodMetrics.StartupDuration or PodMetrics.Retries or ApiRequestMetrics.InstrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        // The startup histogram is in seconds; the report gives milliseconds.
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
            _startupMs.RecordValue(Math.Max(1, (long)Math.Round(value * 1000))));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == ApiRequestMetrics.InstrumentName)
            {
                string verb = "", resource = "", code = "";
                foreach (var tag in tags)
                {
                    switch (tag.Key)
                    {
                        case "verb":
                            verb = tag.Value as string ?? "";
                            break;
                        case "resource":
                            resource = tag.Value as string ?? "";
                            break;
                        case "code":
                            code = tag.Value as string ?? "";
                            break;
                    }
                }

                _apiRequests.AddOrUpdate(new(verb, resource, code), value, (_, count) => count + value);
            }
            else
            {
                Interlocked.Add(ref _retries, value);
            }
        });
        _listener.Start();
    }

    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>The API requests counted so far; two snapshots subtracted give a window's requests.</summary>
    public IReadOnlyDictionary<ApiRequestKind, long> ApiRequests() => _apiRequests.ToDictionary(p => p.Key, p => p.Value);

    public LatencySummary StartupLatency()
    {
        var snapshot = _startupMs.Copy();
        return snapshot.TotalCount == 0
            ? new LatencySummary(0, 0, 0, 0)
            : new LatencySummary(snapshot.GetValueAtPercentile(50), snapshot.GetValueAtPercentile(90), snapshot.GetValueAtPercentile(99), snapshot.GetMaxValue());
    }

    public void Dispose() => _listener.Dispose();
}
