using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using VNodeMesh.Grains;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// The Kubernetes bridge's queues, observed when metrics are collected: pods with a status write not yet done
/// (<c>vnodemesh.kubernetes.status.queue</c>) and Events not yet written (<c>vnodemesh.kubernetes.events.queue</c>).
/// Each silo's writer and recorder register while they run; several silos may share a process.
/// </summary>
public static class BridgeGauges
{
    public const string StatusQueueInstrument = "vnodemesh.kubernetes.status.queue";
    public const string EventQueueInstrument = "vnodemesh.kubernetes.events.queue";

    private static readonly ConcurrentDictionary<PodStatusWriter, byte> Writers = new();
    private static readonly ConcurrentDictionary<PodEventRecorder, byte> Recorders = new();

    private static readonly ObservableGauge<int> StatusQueue = VNodeMeshTelemetry.Meter.CreateObservableGauge(
        StatusQueueInstrument, () => Writers.Keys.Sum(w => w.Backlog), "{pod}",
        "Pods whose status write or removal the status writer has not done yet (coalesced: one per pod).");

    private static readonly ObservableGauge<int> EventQueue = VNodeMeshTelemetry.Meter.CreateObservableGauge(
        EventQueueInstrument, () => Recorders.Keys.Sum(r => r.Pending), "{event}",
        "Events with occurrences not written yet, waiting for their budget or aggregation window.");

    public static IDisposable Observe(PodStatusWriter writer) => Register(Writers, writer, StatusQueue);

    public static IDisposable Observe(PodEventRecorder recorder) => Register(Recorders, recorder, EventQueue);

    private static Registration<T> Register<T>(ConcurrentDictionary<T, byte> set, T item, Instrument instrument) where T : notnull
    {
        _ = instrument; // created with the class, before anything is observed
        set[item] = 0;
        return new Registration<T>(set, item);
    }

    private sealed class Registration<T>(ConcurrentDictionary<T, byte> set, T item) : IDisposable where T : notnull
    {
        public void Dispose() => set.TryRemove(item, out _);
    }
}
