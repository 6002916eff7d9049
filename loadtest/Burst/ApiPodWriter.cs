using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using VNodeMesh.Silo.Kubernetes;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// The tool's pod writes through a plain client, a bounded number in flight: the creates of a burst
/// (each pod's create time is taken just before its first attempt), and for the baseline, one status
/// patch per pod to phase Running. Transient failures (429, 5xx, broken connections) are retried.
/// </summary>
public sealed class ApiPodWriter(IKubernetes client, int concurrency)
{
    private const int MaxAttempts = 10;
    private static readonly V1Patch RunningPatch = new(new { status = new { phase = "Running" } }, V1Patch.PatchType.MergePatch);

    private readonly ConcurrentDictionary<string, long> _createdAt = new();
    private readonly ConcurrentDictionary<string, long> _requests = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private long _firstCreateAt;
    private long _lastCreatedAt;
    private int _created;
    private int _failed;

    /// <summary>Per pod name, the <see cref="Stopwatch"/> timestamp just before its create was first sent.</summary>
    public IReadOnlyDictionary<string, long> CreatedAt => _createdAt;

    public long FirstCreateAt => Interlocked.Read(ref _firstCreateAt);

    public long LastCreatedAt => Interlocked.Read(ref _lastCreatedAt);

    public int Created => Volatile.Read(ref _created);

    public int FailedWrites => Volatile.Read(ref _failed);

    /// <summary>The requests this writer sent, by "verb resource" (retries included).</summary>
    public IReadOnlyDictionary<string, long> Requests => _requests.ToDictionary(p => p.Key, p => p.Value);

    public IReadOnlyList<string> Errors => [.. _errors.Take(5)];

    /// <summary>Creates <paramref name="count"/> pods in <paramref name="namespace"/>; each created pod's name goes to <paramref name="created"/> if given.</summary>
    public async Task CreateAsync(string @namespace, int count, Func<int, V1Pod> pod, ChannelWriter<string>? created, CancellationToken cancellationToken)
    {
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
                async (index, ct) =>
                {
                    var manifest = pod(index);
                    var name = manifest.Metadata.Name;
                    var at = Stopwatch.GetTimestamp();
                    _createdAt[name] = at;
                    Atomic.Min(ref _firstCreateAt, at);
                    var ok = await WithRetriesAsync($"create pod {@namespace}/{name}", "create pods", async (attempt, token) =>
                    {
                        try
                        {
                            await client.CoreV1.CreateNamespacedPodAsync(manifest, @namespace, cancellationToken: token);
                        }
                        catch (Exception ex) when (attempt > 1 && ex.Is(HttpStatusCode.Conflict))
                        {
                            // An earlier attempt got through before its answer was lost.
                        }
                    }, ct);
                    if (ok)
                    {
                        Interlocked.Increment(ref _created);
                        Atomic.Max(ref _lastCreatedAt, Stopwatch.GetTimestamp());
                        created?.TryWrite(name);
                    }
                });
        }
        finally
        {
            created?.TryComplete();
        }
    }

    /// <summary>Patches the status of every pod read from <paramref name="names"/> to phase Running (pods/status, merge patch), once.</summary>
    public Task PatchRunningAsync(string @namespace, ChannelReader<string> names, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(names.ReadAllAsync(cancellationToken), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
            async (name, ct) => await WithRetriesAsync($"patch status of pod {@namespace}/{name}", "patch pods/status",
                async (_, token) => await client.CoreV1.PatchNamespacedPodStatusAsync(RunningPatch, name, @namespace, cancellationToken: token), ct));

    private async Task<bool> WithRetriesAsync(string what, string request, Func<int, CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            _requests.AddOrUpdate(request, 1, (_, n) => n + 1);
            try
            {
                await call(attempt, cancellationToken);
                return true;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && attempt < MaxAttempts
                && !ex.Is(HttpStatusCode.Conflict) && ApiErrors.IsTransient(ex))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5_000, 50 * Math.Pow(2, attempt)) * (0.5 + Random.Shared.NextDouble() / 2)), cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failed);
                _errors.Enqueue($"{what}: {KubernetesTarget.Describe(ex)}");
                return false;
            }
        }
    }
}
