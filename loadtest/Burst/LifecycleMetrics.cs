using System.Diagnostics.Metrics;
using HdrHistogram;
using VNodeMesh.Grains;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>Listens to VNodeMesh's own instruments in this process: pod startup latency and retries.</summary>
public sealed class LifecycleMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly LongConcurrentHistogram _startupMs = new(1, 24L * 3600 * 1000, 3);
    private long _retries;

    public LifecycleMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == VNodeMeshTelemetry.Name && instrument.Name is PodMetrics.StartupDuration or PodMetrics.Retries)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
            _startupMs.RecordValue(Math.Max(1, (long)Math.Round(value))));
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Interlocked.Add(ref _retries, value));
        _listener.Start();
    }

    public long Retries => Interlocked.Read(ref _retries);

    public LatencySummary StartupLatency()
    {
        var snapshot = _startupMs.Copy();
        return snapshot.TotalCount == 0
            ? new LatencySummary(0, 0, 0, 0)
            : new LatencySummary(snapshot.GetValueAtPercentile(50), snapshot.GetValueAtPercentile(90), snapshot.GetValueAtPercentile(99), snapshot.GetMaxValue());
    }

    public void Dispose() => _listener.Dispose();
}
