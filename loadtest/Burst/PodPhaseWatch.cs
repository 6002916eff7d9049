using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using k8s;
using k8s.Models;
using VNodeMesh.Silo.Kubernetes;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// The tool's own view of one namespace's pods: listed, then watched from the list's resourceVersion
/// (resumed from the last one seen when the server ends the watch; relisted after 410 Gone). It keeps,
/// per pod name, the <see cref="Stopwatch"/> timestamp at which the watch first showed it Running,
/// and which pods ended (Succeeded or Failed) without ever running.
/// </summary>
public sealed class PodPhaseWatch : IAsyncDisposable
{
    private readonly IKubernetes _client;
    private readonly string _namespace;
    private readonly ConcurrentDictionary<string, long> _running = new();
    private readonly ConcurrentDictionary<string, string> _ended = new();
    private readonly ConcurrentDictionary<string, byte> _settledUids = new();
    // Per pod UID, its last resourceVersion seen and the Stopwatch timestamp when it was first seen.
    private readonly ConcurrentDictionary<string, (string? Version, long At)> _lastChange = new();
    private BackgroundLoop? _loop;
    private long _events;
    private int _relists;
    private int _failures;
    private long _lastRunningAt;

    private PodPhaseWatch(IKubernetes client, string @namespace) => (_client, _namespace) = (client, @namespace);

    /// <summary>Lists the namespace, then watches it in the background; returns once the list is done.</summary>
    public static async Task<PodPhaseWatch> StartAsync(IKubernetes client, string @namespace, CancellationToken cancellationToken)
    {
        var watch = new PodPhaseWatch(client, @namespace);
        var resourceVersion = await watch.ListAsync(cancellationToken);
        watch._loop = new BackgroundLoop(stopping => watch.RunAsync(resourceVersion, stopping));
        return watch;
    }

    public int Running => _running.Count;

    /// <summary>Pods that ended without the watch ever showing them Running, by phase.</summary>
    public IReadOnlyDictionary<string, int> EndedWithoutRunning =>
        _ended.Where(p => !_running.ContainsKey(p.Key)).GroupBy(p => p.Value).ToDictionary(g => g.Key, g => g.Count());

    public int Settled => _running.Count + _ended.Count(p => !_running.ContainsKey(p.Key));

    /// <summary>The <see cref="Stopwatch"/> timestamp of the last pod seen Running.</summary>
    public long LastRunningAt => Interlocked.Read(ref _lastRunningAt);

    public long Events => Interlocked.Read(ref _events);

    public int Relists => _relists;

    public int Failures => _failures;

    public bool TryGetRunningAt(string name, out long timestamp) => _running.TryGetValue(name, out timestamp);

    /// <summary>Whether the pod with this UID was seen Running or ended.</summary>
    public bool IsSettled(Guid uid) => _settledUids.ContainsKey(uid.ToString());

    /// <summary>The pods seen that are neither Running nor ended.</summary>
    public IReadOnlyList<Guid> Unsettled() =>
        [.. _lastChange.Keys.Where(uid => !_settledUids.ContainsKey(uid)).Select(uid => Guid.TryParse(uid, out var g) ? g : Guid.Empty).Where(g => g != Guid.Empty)];

    /// <summary>Whether the pod changed (a new resourceVersion was seen) after this <see cref="Stopwatch"/> timestamp.</summary>
    public bool ChangedSince(Guid uid, long timestamp) => _lastChange.TryGetValue(uid.ToString(), out var change) && change.At > timestamp;

    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        string? continueToken = null;
        string? resourceVersion = null;
        do
        {
            var page = await _client.CoreV1.ListNamespacedPodAsync(_namespace, continueParameter: continueToken, limit: 1000, cancellationToken: cancellationToken);
            resourceVersion ??= page.Metadata.ResourceVersion;
            var now = Stopwatch.GetTimestamp();
            foreach (var pod in page.Items)
            {
                Observe(pod, now);
            }

            continueToken = page.Metadata.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(continueToken));

        return resourceVersion!;
    }

    private async Task RunAsync(string resourceVersion, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                resourceVersion = await WatchAsync(resourceVersion, cancellationToken);
            }
            catch (WatchExpiredException)
            {
                Interlocked.Increment(ref _relists);
                resourceVersion = await RetryAsync(ListAsync, cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failures);
                await Task.Delay(200, cancellationToken);
            }
        }
    }

    private static async Task<T> RetryAsync<T>(Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action(cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested && attempt < 50)
            {
                await Task.Delay(200 * Math.Min(attempt, 10), cancellationToken);
            }
        }
    }

    private async Task<string> WatchAsync(string resourceVersion, CancellationToken cancellationToken)
    {
        var expired = false;
        Exception? error = null;
        var events = _client.CoreV1.WatchListNamespacedPodAsync(_namespace, resourceVersion: resourceVersion, allowWatchBookmarks: true,
            timeoutSeconds: 3600, onError: ex =>
            {
                if (ex.Is(HttpStatusCode.Gone))
                {
                    expired = true;
                }
                else
                {
                    error ??= ex;
                }
            }, cancellationToken: cancellationToken);
        await foreach (var (type, pod) in events)
        {
            var now = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _events);
            resourceVersion = pod?.Metadata?.ResourceVersion ?? resourceVersion;
            if (type is WatchEventType.Added or WatchEventType.Modified && pod is not null)
            {
                Observe(pod, now);
            }
        }

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

    private void Observe(V1Pod pod, long now)
    {
        var name = pod.Metadata?.Name;
        if (name is null)
        {
            return;
        }

        if (pod.Metadata?.Uid is { } uid)
        {
            // A relist shows every pod again: only a new resourceVersion is a change.
            var version = pod.Metadata.ResourceVersion;
            _lastChange.AddOrUpdate(uid, (version, now), (_, last) => last.Version == version ? last : (version, now));
        }

        switch (pod.Status?.Phase)
        {
            case "Running":
                _settledUids.TryAdd(pod.Metadata!.Uid ?? "", 0);
                if (_running.TryAdd(name, now))
                {
                    Atomic.Max(ref _lastRunningAt, now);
                }

                break;
            case "Succeeded" or "Failed":
                _settledUids.TryAdd(pod.Metadata!.Uid ?? "", 0);
                _ended.TryAdd(name, pod.Status.Phase);
                break;
        }
    }

    public ValueTask DisposeAsync() => _loop?.DisposeAsync() ?? ValueTask.CompletedTask;

    private sealed class WatchExpiredException : Exception;
}
