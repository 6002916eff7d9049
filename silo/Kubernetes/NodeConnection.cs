using System.Net;
using k8s;
using k8s.Models;
using VNodeMesh.Grains;
using VNodeMesh.Grains.Cluster;
using VNodeMesh.Silo.Hosting;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// One virtual node's link to Kubernetes while its grain is active: the Node and its Lease, the pod
/// watch, the dispatch of the watch's commands to the node grain in batches, and the start-up
/// reconcile of the provider's instances against the listed pods.
/// </summary>
public sealed partial class NodeConnection : IAsyncDisposable
{
    private const int BatchSize = 500;
    // Running pods are looked at one share per resync interval: each every ten intervals.
    private const int RunningPhaseRounds = 10;
    private const int PhaseBatchSize = 5_000;

    private readonly VirtualNodeDefinition _definition;
    private readonly IVirtualNodeGrain _grain;
    private readonly IKubernetes _kubernetes;
    private readonly IKubernetes _watchClient;
    private readonly IInstanceProvider _provider;
    private readonly IGrainFactory _grains;
    private readonly string _cluster;
    private readonly TimeProvider _time;
    private readonly TimeSpan _resyncInterval;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly PodWatch _watch;
    private readonly NodeRegistration _registration;
    private readonly Task _running;

    public NodeConnection(
        VirtualNodeDefinition definition,
        IVirtualNodeGrain grain,
        IKubernetes kubernetes,
        IKubernetes watchClient,
        IInstanceProvider provider,
        IGrainFactory grains,
        KubernetesOptions options,
        VirtualNodeOptions nodeOptions,
        string cluster,
        TimeProvider time,
        ILogger logger)
    {
        (_definition, _grain, _kubernetes, _watchClient, _provider, _grains, _cluster, _time, _logger) =
            (definition, grain, kubernetes, watchClient, provider, grains, cluster, time, logger);
        _resyncInterval = nodeOptions.ResyncInterval;
        _registration = new NodeRegistration(definition, kubernetes, options, nodeOptions, time, logger);
        _watch = new PodWatch(definition.Name, watchClient, options, time, logger) { Listed = OnListedAsync };
        var stopping = _stop.Token;
        // Off the grain's scheduler: these loops live as long as the connection, not a grain turn.
        _running = Task.Run(() => Task.WhenAll(
            _registration.RunAsync(stopping), _watch.RunAsync(stopping), DispatchAsync(stopping), CheckPhasesAsync(stopping)), CancellationToken.None);
    }

    private string Node => _definition.Name;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            // Not longer: a batch in flight to the deactivating node grain only ends with the call's timeout.
            await _running.WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
        }

        _watchClient.Dispose();
    }

    /// <summary>Passes the watch's commands to the node grain in order, in batches; a failed batch is sent again (both calls are idempotent).</summary>
    private async Task DispatchAsync(CancellationToken cancellationToken)
    {
        var reader = _watch.Commands;
        var submits = new List<PodManifest>(BatchSize);
        var deletes = new List<Guid>();
        while (await reader.WaitToReadAsync(cancellationToken))
        {
            while (submits.Count + deletes.Count < BatchSize && reader.TryRead(out var command))
            {
                switch (command)
                {
                    case PodWatch.Submit submit:
                        if (deletes.Count > 0)
                        {
                            await SendAsync(submits, deletes, cancellationToken);
                        }

                        submits.Add(Manifest(submit.Pod));
                        break;
                    case PodWatch.Delete delete:
                        if (submits.Count > 0)
                        {
                            await SendAsync(submits, deletes, cancellationToken);
                        }

                        deletes.Add(delete.Uid);
                        break;
                }
            }

            await SendAsync(submits, deletes, cancellationToken);
        }
    }

    private async Task SendAsync(List<PodManifest> submits, List<Guid> deletes, CancellationToken cancellationToken)
    {
        for (var attempt = 1; submits.Count + deletes.Count > 0; attempt++)
        {
            try
            {
                if (submits.Count > 0)
                {
                    await _grain.SubmitPods([.. submits]);
                    submits.Clear();
                }

                if (deletes.Count > 0)
                {
                    await _grain.DeletePods([.. deletes]);
                    deletes.Clear();
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogDispatchFailed(ex, Node, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5_000, 100 * Math.Pow(2, Math.Min(attempt, 10)))), _time, cancellationToken);
            }
        }
    }

    /// <summary>
    /// A status write can be lost (its silo died with it queued). Every resync interval, the pods whose
    /// API phase has been quiet that long go to the node grain, which has each one that got further
    /// write its status again.
    /// </summary>
    private async Task CheckPhasesAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_resyncInterval, _time);
        for (var round = 0; await timer.WaitForNextTickAsync(cancellationToken); round++)
        {
            try
            {
                var republished = 0;
                foreach (var batch in _watch.QuietPhases(_time.GetUtcNow(), _resyncInterval, round, RunningPhaseRounds).Chunk(PhaseBatchSize))
                {
                    republished += await _grain.CheckApiPhases(batch);
                }

                if (republished > 0)
                {
                    LogStatusesRepublished(Node, republished);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogPhaseCheckFailed(ex, Node); // the next round looks again
            }
        }
    }

    /// <summary>The pod as its grain keeps it: without managed fields and status, which nothing downstream reads.</summary>
    private static PodManifest Manifest(V1Pod pod)
    {
        pod.Metadata.ManagedFields = null;
        pod.Status = null;
        return PodManifest.From(pod);
    }

    /// <summary>
    /// After the first list: instances tagged for this cluster and node whose pod is not listed are
    /// orphans only if the API server confirms their pod is gone (not found, or replaced by another
    /// UID). Those are released; everything else is left to the pods' grains.
    /// </summary>
    private async Task OnListedAsync(IReadOnlyList<V1Pod> pods, bool first, CancellationToken cancellationToken)
    {
        if (!first)
        {
            return;
        }

        var listed = pods.Select(p => p.Uid()).ToHashSet();
        var tags = new Dictionary<string, string> { [ContainerGroupTags.Cluster] = _cluster, [ContainerGroupTags.Node] = Node };
        try
        {
            string? next = null;
            var orphans = 0;
            do
            {
                var page = await _provider.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(Tags: tags, NextToken: next), cancellationToken);
                foreach (var instance in page.Items.Where(i => i.PodUid is { } uid && !listed.Contains(uid)))
                {
                    if (await ReleaseIfOrphanAsync(instance, cancellationToken))
                    {
                        orphans++;
                    }
                }

                next = page.NextToken;
            }
            while (next is not null);

            LogReconciled(Node, pods.Count, orphans);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Nothing is lost: orphans are found again at the next start.
            LogReconcileFailed(ex, Node);
        }
    }

    private async Task<bool> ReleaseIfOrphanAsync(ContainerGroup instance, CancellationToken cancellationToken)
    {
        if (!instance.Tags.TryGetValue(ContainerGroupTags.Namespace, out var ns) || !instance.Tags.TryGetValue(ContainerGroupTags.PodName, out var name)
            || !Guid.TryParse(instance.PodUid, out var uid))
        {
            return false;
        }

        try
        {
            var pod = await _kubernetes.CoreV1.ReadNamespacedPodAsync(name, ns, cancellationToken: cancellationToken);
            if (pod.Uid() == instance.PodUid)
            {
                return false; // created after the list: its grain has it
            }
        }
        catch (Exception ex) when (ex.Is(HttpStatusCode.NotFound))
        {
        }

        var grain = _grains.GetGrain<IPodGrain>(uid);
        if ((await grain.GetSnapshot()).Stage == PodStage.New)
        {
            await _provider.DeleteContainerGroupAsync(instance.ContainerGroupId, cancellationToken);
        }
        else
        {
            await grain.RequestDeletion();
        }

        LogOrphanReleased(Node, instance.ContainerGroupId, ns, name, uid);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Virtual node {Node}: {Count} pods showed an older phase in the API than their stage; their statuses are written again")]
    private partial void LogStatusesRepublished(string node, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node}: checking the pods' API phases failed")]
    private partial void LogPhaseCheckFailed(Exception exception, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node}: passing pods to the node grain failed (attempt {Attempt}); retrying")]
    private partial void LogDispatchFailed(Exception exception, string node, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Virtual node {Node}: reconciled {Pods} listed pods with the provider; {Orphans} orphan instances released")]
    private partial void LogReconciled(string node, int pods, int orphans);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node}: reconciling with the provider failed; orphans are looked for again at the next start")]
    private partial void LogReconcileFailed(Exception exception, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Virtual node {Node}: released orphan instance {Instance} of pod {Namespace}/{Name} ({Uid}), which no longer exists")]
    private partial void LogOrphanReleased(string node, string instance, string @namespace, string name, Guid uid);
}
