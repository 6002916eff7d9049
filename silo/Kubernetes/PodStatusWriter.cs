using System.Net;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using VNodeMesh.Grains.Cluster;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// This silo's writer of pod status and pod removals. It keeps only the latest wanted write per pod
/// (a newer status replaces one not yet sent; never two writes of one pod in flight), spends the
/// silo's <see cref="WriteBudget"/>, retries what the server could not take, and drops writes for
/// pods that are gone or were replaced. Events go to the <see cref="PodEventRecorder"/>.
/// </summary>
public sealed partial class PodStatusWriter(
    IKubernetes kubernetes,
    WriteBudget budget,
    PodEventRecorder events,
    IOptions<KubernetesOptions> options,
    TimeProvider time,
    ILogger<PodStatusWriter> logger) : BackgroundService, IPodMirror
{
    private const int MaxAttempts = 8;

    private abstract record PodWrite(PodReference Pod);

    private sealed record StatusWrite(PodView View) : PodWrite(View.Pod);

    private sealed record Removal(PodReference Pod) : PodWrite(Pod);

    /// <summary>A pod with a write pending; while it exists, exactly one of queue, worker or retry timer owns the pod.</summary>
    private sealed class Slot
    {
        public PodWrite? Pending;
        public int Failures;
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Slot> _slots = [];
    private readonly Channel<Guid> _ready = Channel.CreateUnbounded<Guid>();
    private CancellationToken _stopping;

    /// <summary>Pods with a write not yet done.</summary>
    public int Backlog
    {
        get
        {
            lock (_gate)
            {
                return _slots.Count;
            }
        }
    }

    public void Publish(PodView view) => Enqueue(new StatusWrite(view));

    public void Remove(PodReference pod) => Enqueue(new Removal(pod));

    public void Record(PodReference pod, PodNote note) => events.Record(pod, note);

    private void Enqueue(PodWrite write)
    {
        lock (_gate)
        {
            if (_slots.TryGetValue(write.Pod.Uid, out var slot))
            {
                if (slot.Pending is not Removal)
                {
                    slot.Pending = write; // the newest wins; a removal is final
                }

                return;
            }

            _slots[write.Pod.Uid] = new Slot { Pending = write };
        }

        _ready.Writer.TryWrite(write.Pod.Uid);
    }

    /// <summary>A stopping silo first writes what its pods asked for, for as long as the host allows.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        while (Backlog > 0 && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(50, CancellationToken.None);
        }

        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        using var observed = BridgeGauges.Observe(this);
        await Task.WhenAll(Enumerable.Range(0, options.Value.WriteConcurrency).Select(_ => Task.Run(() => WorkAsync(stoppingToken), CancellationToken.None)));
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var uid in _ready.Reader.ReadAllAsync(stoppingToken))
            {
                PodWrite write;
                lock (_gate)
                {
                    var slot = _slots[uid];
                    write = slot.Pending!;
                    slot.Pending = null;
                }

                var done = await TryWriteAsync(write, stoppingToken);
                Settle(uid, write, done);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>After a write: the pod's slot goes, or its next write is queued now or after a backoff.</summary>
    private void Settle(Guid uid, PodWrite write, bool done)
    {
        TimeSpan? delay = null;
        lock (_gate)
        {
            var slot = _slots[uid];
            if (!done)
            {
                slot.Failures++;
                if (slot.Failures >= MaxAttempts)
                {
                    LogGaveUp(write.Pod.Namespace, write.Pod.Name, slot.Failures);
                    slot.Failures = 0;
                }
                else
                {
                    slot.Pending ??= write;
                    delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 200 * Math.Pow(2, slot.Failures)) * (0.5 + Random.Shared.NextDouble() / 2));
                }
            }
            else
            {
                slot.Failures = 0;
            }

            if (slot.Pending is null)
            {
                _slots.Remove(uid);
                return;
            }
        }

        if (delay is { } wait)
        {
            Task.Delay(wait, time, _stopping).ContinueWith(_ => _ready.Writer.TryWrite(uid), TaskScheduler.Default).Ignore();
        }
        else
        {
            _ready.Writer.TryWrite(uid);
        }
    }

    /// <returns>False when the write should be tried again.</returns>
    private async Task<bool> TryWriteAsync(PodWrite write, CancellationToken cancellationToken)
    {
        var pod = write.Pod;
        try
        {
            await budget.SpendAsync(cancellationToken);
            switch (write)
            {
                case StatusWrite status:
                    await kubernetes.CoreV1.PatchNamespacedPodStatusAsync(PodStatusPatch.Build(status.View), pod.Name, pod.Namespace, cancellationToken: cancellationToken);
                    break;
                case Removal:
                    await kubernetes.CoreV1.DeleteNamespacedPodAsync(pod.Name, pod.Namespace,
                        new V1DeleteOptions { GracePeriodSeconds = 0, Preconditions = new V1Preconditions { Uid = pod.Uid.ToString() } },
                        cancellationToken: cancellationToken);
                    break;
            }

            return true;
        }
        catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound) || ex.Is(HttpStatusCode.Conflict))
        {
            // Gone, or replaced by a pod of the same name (the UID precondition failed): nothing to write.
            LogDropped(pod.Namespace, pod.Name, write.GetType().Name, (int)ApiErrors.StatusOf(ex)!);
            return true;
        }
        catch (Exception ex) when (ApiErrors.IsTransient(ex) && !cancellationToken.IsCancellationRequested)
        {
            LogRetrying(ex, pod.Namespace, pod.Name, write.GetType().Name);
            return false;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogRejected(ex, pod.Namespace, pod.Name, write.GetType().Name);
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pod {Namespace}/{Name}: {Write} dropped, the pod is gone or replaced ({Code})")]
    private partial void LogDropped(string @namespace, string name, string write, int code);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pod {Namespace}/{Name}: {Write} failed; retrying")]
    private partial void LogRetrying(Exception exception, string @namespace, string name, string write);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pod {Namespace}/{Name}: {Write} was rejected by the API server")]
    private partial void LogRejected(Exception exception, string @namespace, string name, string write);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pod {Namespace}/{Name}: giving up a write after {Attempts} attempts; the next status change writes again")]
    private partial void LogGaveUp(string @namespace, string name, int attempts);
}
