using System.Diagnostics;
using Orleans.Runtime;
using Spectre.Console;
using VNodeMesh.LoadTest.Cluster;
using VNodeMesh.Silo.Hosting;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>One silo process of a run, in the report: how it ended.</summary>
public sealed record SiloProcessReport(string Name, int ProcessId, int SiloPort, string Ended);

/// <summary>
/// The silos of <c>burst --kubernetes --profile cluster</c>: one process each on the cluster profile,
/// sharing a Redis (the tool's own unless <c>--redis</c> is given) and one ECI emulator in this
/// process, so that the cloud counts every instance and duplicate of the run in one place. It kills a
/// silo (preferably the one hosting the virtual node), restarts Redis or upgrades every silo when
/// they are due, and follows the failover.
/// </summary>
public sealed class ProcessSilos : IBurstSilos
{
    private readonly BurstSettings _settings;
    private readonly IAnsiConsole _console;
    private readonly RedisServer? _redis;
    private readonly SharedCloud _cloud;
    private readonly ApiServerProxy? _proxy;
    private readonly SiloProcessCluster _cluster;
    private readonly SiloClusterClient _client;
    private readonly SiloMetricsScraper _metrics;
    private readonly List<double> _kills = [];
    private FailoverTracker? _failover;
    private RollingUpgrade? _upgrade;
    private ApiFaultSchedule? _faults;
    private int _redisRestarts;
    private double _redisDownSeconds;

    private ProcessSilos(BurstSettings settings, IAnsiConsole console, RedisServer? redis, SharedCloud cloud, ApiServerProxy? proxy,
        SiloProcessCluster cluster, SiloClusterClient client, string node)
    {
        (_settings, _console, _redis, _cloud, _proxy, _cluster, _client) = (settings, console, redis, cloud, proxy, cluster, client);
        Node = client.Grains.GetGrain<IVirtualNodeGrain>(node);
        _metrics = new SiloMetricsScraper(cluster);
    }

    public SimulatedCloud Cloud => _cloud.Simulator;

    public IVirtualNodeGrain Node { get; }

    public IReadOnlyList<double> Kills => _kills;

    public bool FaultUnderWay => _failover is { Completed: false } || _upgrade is { Completed: false };

    public RollingUpgrade? Upgrade => _upgrade;

    public SiloProcessCluster Cluster => _cluster;

    /// <param name="telemetry">With <c>--telemetry on</c>: the silos export to it and it scrapes their <c>/metrics</c>.</param>
    public static async Task<ProcessSilos> StartAsync(BurstSettings settings, string runId, string node, string kubeconfig,
        Dictionary<string, string?> siloSettings, BurstTelemetry? telemetry, IAnsiConsole console, CancellationToken cancellationToken)
    {
        var owned = new Stack<IAsyncDisposable>();
        try
        {
            RedisServer? redis = null;
            if (settings.Redis is null)
            {
                redis = await RedisServer.StartAsync(cancellationToken: cancellationToken);
                owned.Push(redis);
                console.MarkupLine($"[grey]Redis {Markup.Escape(redis.ConfigurationString)} (pid {redis.ProcessId}, data in {Markup.Escape(redis.DataDirectory)})[/]");
            }

            var cloud = await SharedCloud.StartAsync(settings.SimulatorOptions());
            owned.Push(cloud);
            console.MarkupLine($"[grey]ECI emulator {Markup.Escape(cloud.Emulator.Endpoint.ToString())}, quota {settings.QuotaText}[/]");

            ApiServerProxy? proxy = null;
            if (settings.ApiFaults)
            {
                proxy = await ApiServerProxy.StartAsync(kubeconfig);
                owned.Push(proxy);
                kubeconfig = proxy.Kubeconfig;
                console.MarkupLine($"[grey]API faults: the silos reach the API server through {Markup.Escape(proxy.Address.ToString())}[/]");
            }

            foreach (var (key, value) in cloud.SiloSettings(settings.Quota))
            {
                siloSettings[key] = value;
            }

            foreach (var (key, value) in settings.ExtraSiloSettings)
            {
                siloSettings[key] = value;
            }

            var runDirectory = settings.RunDirectory ?? Path.Combine(Path.GetTempPath(), $"vnodemesh-burst-{runId}");
            var options = new SiloClusterOptions
            {
                Profile = SiloProfile.Cluster,
                Redis = settings.Redis ?? redis!.ConfigurationString,
                ClusterId = $"burst-{runId}",
                ServiceId = $"burst-{runId}",
                RunDirectory = runDirectory,
                Settings = siloSettings,
                Arguments = ["--kubeconfig", kubeconfig],
            };
            console.MarkupLine($"[grey]starting {settings.Silos} silo processes ({Markup.Escape(options.SiloDll)}); their output goes to {Markup.Escape(runDirectory)}[/]");
            var cluster = await SiloProcessCluster.StartAsync(options, settings.Silos, cancellationToken);
            owned.Push(cluster);
            foreach (var silo in cluster.Silos)
            {
                console.MarkupLine($"[grey]  {silo.Name}: pid {silo.ProcessId}, silo port {silo.SiloPort}, gateway {silo.GatewayPort}, http {silo.HttpPort}[/]");
            }

            if (telemetry is not null)
            {
                await telemetry.StartScrapingAsync([.. cluster.Silos.Select(s => new Uri($"http://127.0.0.1:{s.HttpPort}/metrics"))]);
            }

            var client = await cluster.ClientAsync(cancellationToken);
            return new ProcessSilos(settings, console, redis, cloud, proxy, cluster, client, node);
        }
        catch
        {
            while (owned.TryPop(out var resource))
            {
                await resource.DisposeAsync();
            }

            throw;
        }
    }

    public string Progress()
    {
        var running = _cluster.Running.Count;
        var failover = _failover is null ? "" : _failover.Completed ? "  failover done" : "  failing over";
        var upgrade = _upgrade is null ? "" : _upgrade.Completed ? "  upgrade done" : "  upgrading";
        return $"silos {running}/{_cluster.Silos.Count}{failover}{upgrade}  status backlog={_metrics.StatusBacklog}";
    }

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
        if (_settings.KillSiloAt is { } killAt && _kills.Count == 0 && _settings.Silos > 1 && progress.Running >= killAt * _settings.Pods)
        {
            await KillAsync(progress);
        }

        if (_settings.RollingUpgradeAt is { } upgradeAt && _upgrade is null && progress.Running >= upgradeAt * _settings.Pods)
        {
            _console.MarkupLine($"[yellow]rolling upgrade of {_cluster.Running.Count} silos at {progress.Elapsed.TotalSeconds:0.0}s ({progress.Running} pods running)[/]");
            _upgrade = new RollingUpgrade(_cluster, GracePeriod, progress.Elapsed.TotalSeconds, line => _console.MarkupLine($"[yellow]{Markup.Escape(line)}[/]"));
        }

        if (_settings.RestartRedisAt is { } restartAt && _redisRestarts == 0 && _redis is not null && progress.Running >= restartAt * _settings.Pods)
        {
            var down = Stopwatch.StartNew();
            _redis.Kill();
            await _redis.RestartAsync(cancellationToken);
            _redisRestarts++;
            _redisDownSeconds = down.Elapsed.TotalSeconds;
            _console.MarkupLine($"[yellow]killed and restarted Redis at {progress.Elapsed.TotalSeconds:0.0}s ({progress.Running} pods running; down {_redisDownSeconds:0.00}s)[/]");
        }
    }

    /// <summary>The chart's termination grace period: the silo's shutdown timeout and 15 s.</summary>
    private static TimeSpan GracePeriod => new ClusterProfileOptions().ShutdownTimeout + TimeSpan.FromSeconds(15);

    /// <summary>
    /// SIGKILL to the silo hosting the virtual node's grain (else the first one running), after noting
    /// which unsettled pods it hosts; then the failover is followed until they are owned again.
    /// </summary>
    private async Task KillAsync(BurstProgress progress)
    {
        SiloAddress? address = null;
        SiloProcess? victim = null;
        try
        {
            address = await _client.HostOfAsync(Node);
            victim = _cluster.Find(address);
        }
        catch (Exception ex)
        {
            _console.MarkupLine($"[yellow]could not find the virtual node's silo ({Markup.Escape(ex.Message)}); killing the first silo[/]");
        }

        var hostsNode = victim is { IsRunning: true };
        if (!hostsNode)
        {
            victim = _cluster.Running[0];
            address = await AddressOfAsync(victim);
        }

        // Which unsettled pods a live silo holds at the kill: the others must be owned again.
        var unsettled = progress.Pods.Unsettled();
        HashSet<Guid> onVictim = [], onLive = [];
        var perSilo = "";
        try
        {
            var activations = await _client.PodActivationsAsync();
            foreach (var (pod, silo) in activations)
            {
                (silo.Equals(address) ? onVictim : onLive).Add(pod);
            }

            perSilo = string.Join(", ", activations.GroupBy(a => a.Silo).Select(g => $"{_cluster.Find(g.Key)?.Name ?? g.Key.ToString()}={g.Count()}"));
        }
        catch (Exception ex)
        {
            _console.MarkupLine($"[yellow]could not list the pods' activations: {Markup.Escape(ex.Message)}[/]");
        }

        var start = new FailoverTracker.FailoverStart(unsettled.Count, unsettled.Count(onVictim.Contains), [.. unsettled.Where(uid => !onLive.Contains(uid))]);
        var killedAt = DateTimeOffset.UtcNow;
        var killedAtTimestamp = Stopwatch.GetTimestamp();
        victim!.Kill();
        _kills.Add(progress.Elapsed.TotalSeconds);
        _failover = FailoverTracker.Start(_client, victim, address, killedAt, killedAtTimestamp, progress.Elapsed.TotalSeconds, hostsNode, start, progress.Pods, progress.Node);
        _console.MarkupLine($"[yellow]killed {victim.Name} (pid {victim.ProcessId}{(hostsNode ? ", the virtual node's silo" : "")}) at {progress.Elapsed.TotalSeconds:0.0}s: "
            + $"{progress.Running} pods running, {start.UnsettledAtKill} unsettled, {start.UnsettledOnSilo} of them active on it, {start.ToOwnAgain.Count} held by no live silo; pod activations {Markup.Escape(perSilo)}[/]");
    }

    private async Task<SiloAddress?> AddressOfAsync(SiloProcess silo)
    {
        try
        {
            return (await _client.MembershipAsync()).Keys.FirstOrDefault(a => a.Endpoint.Port == silo.SiloPort && a.Endpoint.Address.Equals(System.Net.IPAddress.Loopback));
        }
        catch (Exception)
        {
            return null;
        }
    }

    public Task RefreshCountsAsync(CancellationToken cancellationToken) => _metrics.ScrapeAsync(cancellationToken);

    /// <summary>Counted by the silos themselves, read from their <c>/metrics</c>.</summary>
    public IReadOnlyDictionary<ApiRequestKind, long>? ApiRequests() => _metrics.ApiRequests();

    public int? EventWritesPending => _metrics.EventsPending;

    public long Retries => _metrics.Retries;

    /// <summary>The silos' working sets added up.</summary>
    public long WorkingSet() => _cluster.Running.Sum(s => s.WorkingSetBytes);

    public BurstReport Complete(BurstReport report)
    {
        var failover = _failover?.Report();
        return report with
        {
            Profile = "cluster",
            Provider = "eci",
            RunDirectory = _cluster.Options.RunDirectory,
            SiloProcesses = [.. _cluster.Silos.Select(s => new SiloProcessReport(s.Name, s.ProcessId, s.SiloPort, s.Ended))],
            Failover = failover,
            FailoverSeconds = failover?.FailoverSeconds,
            RedisRestarts = _redisRestarts,
            RedisDownSeconds = _redisRestarts > 0 ? Math.Round(_redisDownSeconds, 2) : null,
            ApiFaults = _faults?.Report(),
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _metrics.DisposeAsync();
        if (_faults is not null)
        {
            await _faults.DisposeAsync();
        }

        if (_failover is not null)
        {
            await _failover.DisposeAsync();
        }

        if (_upgrade is not null)
        {
            await _upgrade.DisposeAsync();
        }

        await _cluster.DisposeAsync();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        await _cloud.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}
