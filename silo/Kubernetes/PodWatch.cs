using System.Net;
using System.Threading.Channels;
using k8s;
using k8s.Models;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// The pods bound to one virtual node: listed, then watched from the list's resourceVersion. A
/// dropped watch resumes from the last resourceVersion seen; 410 Gone relists and reconciles.
/// Only what the provider cares about reaches the node grain (a new pod, a deletion): the
/// status updates VNodeMesh itself writes come back on the watch and are dropped here.
/// </summary>
public sealed partial class PodWatch(
    string node,
    IKubernetes kubernetes,
    KubernetesOptions options,
    TimeProvider time,
    ILogger logger)
{
    private const int ListPageSize = 500;

    /// <summary>What the watch asks of the node grain, in the order the API server told it.</summary>
    public abstract record Command(Guid Uid);

    public sealed record Submit(Guid Uid, V1Pod Pod) : Command(Uid);

    public sealed record Delete(Guid Uid) : Command(Uid);

    // Pods seen on this node: whether their deletion was passed on, and their phase as last seen. The
    // watch loop writes it; the phase check reads it.
    private readonly Dictionary<Guid, KnownPod> _known = [];
    private readonly Lock _gate = new();
    private readonly Channel<Command> _commands = Channel.CreateUnbounded<Command>(new() { SingleReader = true, SingleWriter = true });

    public ChannelReader<Command> Commands => _commands.Reader;

    public long Relists { get; private set; }

    /// <summary>Called after every list with the pods listed, before watching: the reconcile hook.</summary>
    public Func<IReadOnlyList<V1Pod>, bool, CancellationToken, Task>? Listed { get; init; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        string? resourceVersion = null;
        var failures = 0;
        var first = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null)
                {
                    var (pods, listedAt) = await ListAsync(cancellationToken);
                    Reconcile(pods);
                    if (Listed is { } listed)
                    {
                        await listed(pods, first, cancellationToken);
                    }

                    first = false;
                    resourceVersion = listedAt;
                }

                resourceVersion = await WatchAsync(resourceVersion, cancellationToken);
                failures = 0;
            }
            catch (WatchExpiredException)
            {
                LogRelisting(node, resourceVersion);
                resourceVersion = null;
                Relists++;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                failures++;
                LogWatchFailed(ex, node, failures);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10_000, 100 * Math.Pow(2, Math.Min(failures, 10)))), time, cancellationToken);
            }
        }
    }

    private async Task<(List<V1Pod> Pods, string ResourceVersion)> ListAsync(CancellationToken cancellationToken)
    {
        var pods = new List<V1Pod>();
        string? resourceVersion = null;
        string? continueToken = null;
        do
        {
            var page = await kubernetes.CoreV1.ListPodForAllNamespacesAsync(
                continueParameter: continueToken, fieldSelector: FieldSelector, limit: ListPageSize, cancellationToken: cancellationToken);
            resourceVersion ??= page.Metadata.ResourceVersion;
            pods.AddRange(page.Items);
            continueToken = page.Metadata.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(continueToken));

        return (pods, resourceVersion!);
    }

    private string FieldSelector => $"spec.nodeName={node}";

    /// <returns>The last resourceVersion seen, to resume from when the server ends the watch.</returns>
    private async Task<string> WatchAsync(string resourceVersion, CancellationToken cancellationToken)
    {
        var expired = false;
        Exception? error = null;
        var events = kubernetes.CoreV1.WatchListPodForAllNamespacesAsync(
            fieldSelector: FieldSelector, resourceVersion: resourceVersion, allowWatchBookmarks: true,
            timeoutSeconds: options.WatchTimeoutSeconds, onError: ex =>
        {
            if (ex.Is(HttpStatusCode.Gone))
            {
                expired = true;
            }
            else
            {
                error = ex;
            }
        }, cancellationToken: cancellationToken);
        await foreach (var (type, pod) in events)
        {
            resourceVersion = pod.Metadata?.ResourceVersion ?? resourceVersion;
            switch (type)
            {
                case WatchEventType.Added or WatchEventType.Modified:
                    Seen(pod);
                    break;
                case WatchEventType.Deleted:
                    Gone(pod);
                    break;
            }
        }

        LogWatchEnded(node, resourceVersion, error?.Message);
        if (expired)
        {
            throw new WatchExpiredException();
        }

        if (error is not null)
        {
            throw error;
        }

        return resourceVersion;
    }

    /// <summary>
    /// Pods whose phase has shown no change in the API for <paramref name="quietFor"/> and may be behind
    /// their stage: every Pending one, and the Running ones of this round's share (one in
    /// <paramref name="rounds"/>, so that each is looked at every so many rounds at little cost).
    /// Ended pods never move again, and pods being deleted are left to their deletion.
    /// </summary>
    public List<PodApiPhase> QuietPhases(DateTimeOffset now, TimeSpan quietFor, int round, int rounds)
    {
        var quietSince = now - quietFor;
        var share = (uint)round % (uint)rounds;
        lock (_gate)
        {
            return [.. _known
                .Where(p => !p.Value.DeletionPassedOn && p.Value.ChangedAt <= quietSince && (p.Value.Phase == PodPhase.Pending
                    || p.Value.Phase == PodPhase.Running && (uint)p.Key.GetHashCode() % (uint)rounds == share))
                .Select(p => new PodApiPhase(p.Key, p.Value.Phase))];
        }
    }

    /// <summary>After a (re)list: pods seen for the first time go to their grains; known pods missing from the list were deleted meanwhile.</summary>
    private void Reconcile(List<V1Pod> pods)
    {
        var listed = new HashSet<Guid>();
        foreach (var pod in pods)
        {
            if (Guid.TryParse(pod.Uid(), out var uid))
            {
                listed.Add(uid);
                Seen(pod);
            }
        }

        lock (_gate)
        {
            foreach (var uid in _known.Keys.Where(uid => !listed.Contains(uid)).ToList())
            {
                _known.Remove(uid);
                _commands.Writer.TryWrite(new Delete(uid));
            }
        }
    }

    private void Seen(V1Pod pod)
    {
        if (!Guid.TryParse(pod.Uid(), out var uid))
        {
            return;
        }

        var phase = Enum.TryParse<PodPhase>(pod.Status?.Phase, out var p) ? p : PodPhase.Pending;
        lock (_gate)
        {
            _known.TryGetValue(uid, out var was);
            var now = was is not null && was.Phase == phase && was.ResourceVersion == pod.ResourceVersion()
                ? was
                : new KnownPod(was?.DeletionPassedOn ?? false, phase, pod.ResourceVersion(), time.GetUtcNow());
            if (pod.Metadata.DeletionTimestamp is not null)
            {
                if (!now.DeletionPassedOn)
                {
                    now = now with { DeletionPassedOn = true };
                    _commands.Writer.TryWrite(new Delete(uid));
                }
            }
            else if (was is null && phase is not (PodPhase.Succeeded or PodPhase.Failed))
            {
                // A pod that finished before VNodeMesh saw it has nothing to run; it must never run twice.
                _commands.Writer.TryWrite(new Submit(uid, pod));
            }

            _known[uid] = now;
        }
    }

    private void Gone(V1Pod pod)
    {
        if (!Guid.TryParse(pod.Uid(), out var uid))
        {
            return;
        }

        KnownPod? was;
        lock (_gate)
        {
            _known.Remove(uid, out was);
        }

        // Deleted without a grace period (forced): the instance must still go. A pod whose deletion
        // was passed on is gone because VNodeMesh removed it, after its instance.
        if (was is { DeletionPassedOn: false })
        {
            _commands.Writer.TryWrite(new Delete(uid));
        }
    }

    private sealed record KnownPod(bool DeletionPassedOn, PodPhase Phase, string? ResourceVersion, DateTimeOffset ChangedAt);

    private sealed class WatchExpiredException : Exception;

    [LoggerMessage(Level = LogLevel.Information, Message = "Virtual node {Node}: watch from resourceVersion {ResourceVersion} expired (410 Gone); relisting")]
    private partial void LogRelisting(string node, string? resourceVersion);

    // The API server closes a watch that falls behind a burst; it is resumed from where it was.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Virtual node {Node}: watch ended at resourceVersion {ResourceVersion} ({Error}); resuming")]
    private partial void LogWatchEnded(string node, string? resourceVersion, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node}: pod watch failed ({Failures} in a row); retrying")]
    private partial void LogWatchFailed(Exception exception, string node, int failures);
}
