using Spectre.Console;
using VNodeMesh.LoadTest.Cluster;
using VNodeMesh.Silo.Kubernetes;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>Where a Kubernetes burst stands, for the faults that are due at a share of the pods.</summary>
public sealed record BurstProgress(TimeSpan Elapsed, int Running, int Settled, PodPhaseWatch Pods, NodeHealthWatch Node);

/// <summary>The silos of a Kubernetes burst: in this process, or processes of their own (<see cref="ProcessSilos"/>).</summary>
public interface IBurstSilos : IAsyncDisposable
{
    /// <summary>The cloud behind them, which counts instances and duplicates.</summary>
    SimulatedCloud Cloud { get; }

    /// <summary>The run's virtual node grain, for its summary.</summary>
    IVirtualNodeGrain Node { get; }

    /// <summary>Seconds into the VNodeMesh phase at which a silo was killed.</summary>
    IReadOnlyList<double> Kills { get; }

    /// <summary>A killed silo's work is not yet owned again, or a rolling upgrade is not done: the run waits for it, or it goes unmeasured.</summary>
    bool FaultUnderWay { get; }

    /// <summary>The rolling upgrade of the run, once it has started.</summary>
    RollingUpgrade? Upgrade { get; }

    /// <summary>A few words on the silos for the progress line.</summary>
    string Progress();

    /// <summary>The VNodeMesh phase starts: faults that run on a schedule start too.</summary>
    void PhaseStarted();

    /// <summary>Carries out the kills and restarts that are due.</summary>
    Task OnProgressAsync(BurstProgress progress, CancellationToken cancellationToken);

    /// <summary>Brings the counts below up to date (silo processes are read from their <c>/metrics</c>).</summary>
    Task RefreshCountsAsync(CancellationToken cancellationToken);

    /// <summary>VNodeMesh's API requests so far; null when they are not counted.</summary>
    IReadOnlyDictionary<ApiRequestKind, long>? ApiRequests();

    /// <summary>Events still queued behind their own budget; null when not known.</summary>
    int? EventWritesPending { get; }

    long Retries { get; }

    /// <summary>The memory the silos use now (their working set).</summary>
    long WorkingSet();

    /// <summary>Adds what these silos know to the report.</summary>
    BurstReport Complete(BurstReport report);
}

/// <summary>
/// The silos of the local profile in this process (<see cref="LocalSiloCluster"/>), sharing the
/// in-process cloud; VNodeMesh's API requests counted from its own instruments.
/// </summary>
public sealed class InProcessSilos : IBurstSilos
{
    private readonly BurstSettings _settings;
    private readonly BurstCloud _cloud;
    private readonly LocalSiloCluster _cluster;
    private readonly LifecycleMetrics _metrics;
    private readonly ApiServerProxy? _proxy;
    private readonly IAnsiConsole _console;
    private readonly List<double> _kills = [];
    private ApiFaultSchedule? _faults;

    private InProcessSilos(BurstSettings settings, BurstCloud cloud, LocalSiloCluster cluster, LifecycleMetrics metrics, ApiServerProxy? proxy, IAnsiConsole console, string node)
    {
        (_settings, _cloud, _cluster, _metrics, _proxy, _console) = (settings, cloud, cluster, metrics, proxy, console);
        Node = cluster.Grains.GetGrain<IVirtualNodeGrain>(node);
    }

    public SimulatedCloud Cloud => _cloud.Simulator;

    public IVirtualNodeGrain Node { get; }

    public IReadOnlyList<double> Kills => _kills;

    public bool FaultUnderWay => false; // in-process kills are not tracked

    public RollingUpgrade? Upgrade => null;

    /// <param name="telemetry">With <c>--telemetry on</c>: the silos export to it and it scrapes them.</param>
    public static async Task<InProcessSilos> StartAsync(BurstSettings settings, string node, string kubeconfig, Dictionary<string, string?> siloSettings,
        BurstTelemetry? telemetry, IAnsiConsole console)
    {
        var cloud = await BurstCloud.StartAsync(settings);
        var metrics = new LifecycleMetrics();
        ApiServerProxy? proxy = null;
        try
        {
            if (settings.ApiFaults)
            {
                proxy = await ApiServerProxy.StartAsync(kubeconfig);
                kubeconfig = proxy.Kubeconfig;
            }

            siloSettings[$"{KubernetesOptions.Section}:{nameof(KubernetesOptions.Kubeconfig)}"] = kubeconfig;
            var cluster = await LocalSiloCluster.StartAsync(settings.Silos, cloud.Provider, siloSettings, kubernetes: true, telemetry: telemetry is not null);
            if (telemetry is not null)
            {
                await telemetry.StartScrapingAsync(cluster.MetricsEndpoints);
            }

            return new InProcessSilos(settings, cloud, cluster, metrics, proxy, console, node);
        }
        catch
        {
            metrics.Dispose();
            if (proxy is not null)
            {
                await proxy.DisposeAsync();
            }

            await cloud.DisposeAsync();
            throw;
        }
    }

    public string Progress() => $"status backlog={_cluster.Services<PodStatusWriter>().Sum(w => w.Backlog)}";

    public void PhaseStarted()
    {
        if (_proxy is not null)
        {
            _faults = new ApiFaultSchedule(_proxy, _settings.ApiFaultPeriod, _settings.ApiFaultHold,
                line => _console.MarkupLine($"[yellow]{Markup.Escape(line)}[/]"));
        }
    }

    public async Task OnProgressAsync(BurstProgress progress, CancellationToken cancellationToken)
    {
        if (_settings.KillIsDue(_kills.Count, progress.Settled))
        {
            await _cluster.KillAsync(1);
            _kills.Add(progress.Elapsed.TotalSeconds);
            _console.MarkupLine($"[yellow]killed silo 1 at {progress.Elapsed.TotalSeconds:0.0}s ({progress.Settled} pods settled)[/]");
        }
    }

    public Task RefreshCountsAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public IReadOnlyDictionary<ApiRequestKind, long>? ApiRequests() => _metrics.ApiRequests();

    public int? EventWritesPending => _cluster.Services<PodEventRecorder>().Sum(r => r.Pending);

    public long Retries => _metrics.Retries;

    /// <summary>This process's: the silos run in it.</summary>
    public long WorkingSet() => System.Diagnostics.Process.GetCurrentProcess().WorkingSet64;

    public BurstReport Complete(BurstReport report) => report with { ApiFaults = _faults?.Report() };

    public async ValueTask DisposeAsync()
    {
        if (_faults is not null)
        {
            await _faults.DisposeAsync();
        }

        await _cluster.DisposeAsync();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        _metrics.Dispose();
        await _cloud.DisposeAsync();
    }
}
