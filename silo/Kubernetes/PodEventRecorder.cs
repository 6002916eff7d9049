using k8s;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using VNodeMesh.Grains.Cluster;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// Kubernetes Events about pods, aggregated as client-go's recorder does: the first occurrence of
/// a (pod, reason) creates an Event; repeats within the aggregation window only raise its count,
/// written at most once per window. A retry storm costs one write per pod per window.
/// </summary>
public sealed partial class PodEventRecorder(
    IKubernetes kubernetes,
    EventBudget budget,
    IOptions<KubernetesOptions> options,
    TimeProvider time,
    ILogger<PodEventRecorder> logger) : BackgroundService
{
    public const string Component = "vnodemesh";
    private static readonly TimeSpan ScanInterval = TimeSpan.FromMilliseconds(250);
    private const int Parallelism = 8;

    private sealed class Aggregate(PodReference pod, PodNote note, DateTimeOffset now)
    {
        public PodReference Pod { get; } = pod;
        public PodNote Note { get; set; } = note;
        public string EventName { get; } = $"{pod.Name}.{Guid.NewGuid():N}"[..Math.Min(253, pod.Name.Length + 17)];
        public DateTimeOffset First { get; } = now;
        public DateTimeOffset Last { get; set; } = now;
        public int Count { get; set; } = 1;
        public int Written { get; set; }
        public DateTimeOffset? WrittenAt { get; set; }
        public bool Writing { get; set; }
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<(Guid, string), Aggregate> _aggregates = [];

    /// <summary>Events with occurrences not yet written (each costs one write).</summary>
    public int Pending
    {
        get
        {
            lock (_gate)
            {
                return _aggregates.Values.Count(a => a.Written < a.Count);
            }
        }
    }

    public void Record(PodReference pod, PodNote note)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (_aggregates.TryGetValue((pod.Uid, note.Reason), out var aggregate))
            {
                aggregate.Count++;
                aggregate.Last = now;
                aggregate.Note = note;
            }
            else
            {
                _aggregates[(pod.Uid, note.Reason)] = new Aggregate(pod, note, now);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var observed = BridgeGauges.Observe(this);
        using var timer = new PeriodicTimer(ScanInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await Parallel.ForEachAsync(Due(), new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = stoppingToken },
                    async (aggregate, ct) => await WriteAsync(aggregate, ct));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Aggregates with unwritten occurrences whose window allows a write; idle ones are forgotten.</summary>
    private List<Aggregate> Due()
    {
        var now = time.GetUtcNow();
        var window = options.Value.EventAggregationWindow;
        var due = new List<Aggregate>();
        lock (_gate)
        {
            foreach (var (key, aggregate) in _aggregates)
            {
                if (aggregate.Writing)
                {
                    continue;
                }

                if (aggregate.Written == aggregate.Count)
                {
                    if (now - aggregate.Last > window)
                    {
                        _aggregates.Remove(key); // a later occurrence starts a new Event
                    }
                }
                else if (aggregate.WrittenAt is not { } at || now - at >= window)
                {
                    aggregate.Writing = true;
                    due.Add(aggregate);
                }
            }
        }

        return due;
    }

    private async Task WriteAsync(Aggregate aggregate, CancellationToken cancellationToken)
    {
        int count;
        PodNote note;
        DateTimeOffset last;
        lock (_gate)
        {
            (count, note, last) = (aggregate.Count, aggregate.Note, aggregate.Last);
        }

        var pod = aggregate.Pod;
        try
        {
            await budget.SpendAsync(cancellationToken);
            if (aggregate.Written == 0)
            {
                await kubernetes.CoreV1.CreateNamespacedEventAsync(new Corev1Event
                {
                    Metadata = new V1ObjectMeta { Name = aggregate.EventName, NamespaceProperty = pod.Namespace },
                    InvolvedObject = new V1ObjectReference { Kind = "Pod", ApiVersion = "v1", NamespaceProperty = pod.Namespace, Name = pod.Name, Uid = pod.Uid.ToString() },
                    Type = note.Warning ? "Warning" : "Normal",
                    Reason = note.Reason,
                    Message = note.Message,
                    Count = count,
                    FirstTimestamp = aggregate.First.UtcDateTime,
                    LastTimestamp = last.UtcDateTime,
                    Source = new V1EventSource { Component = Component },
                    ReportingComponent = Component,
                    ReportingInstance = Environment.MachineName,
                }, pod.Namespace, cancellationToken: cancellationToken);
            }
            else
            {
                var patch = new { count, lastTimestamp = last.UtcDateTime, message = note.Message };
                await kubernetes.CoreV1.PatchNamespacedEventAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), aggregate.EventName, pod.Namespace, cancellationToken: cancellationToken);
            }

            lock (_gate)
            {
                aggregate.Written = count;
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // An Event is best effort: the pod's status carries the same reason.
            LogEventFailed(ex, pod.Namespace, pod.Name, note.Reason);
            lock (_gate)
            {
                aggregate.Written = count;
            }
        }
        finally
        {
            lock (_gate)
            {
                aggregate.WrittenAt = time.GetUtcNow();
                aggregate.Writing = false;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Event {Reason} for pod {Namespace}/{Name} could not be written")]
    private partial void LogEventFailed(Exception exception, string @namespace, string name, string reason);
}
