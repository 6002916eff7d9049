using System.Globalization;
using Orleans.Runtime;
using VNodeMesh.LoadTest.Burst;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>How the silo processes of a run find each other and keep their state.</summary>
public enum SiloProfile
{
    /// <summary>Localhost clustering around silo 1, state in each process's memory: for trying the orchestration alone.</summary>
    Local,

    /// <summary>Membership, grain state, reminders and the provider budget in Redis: state survives any one process.</summary>
    Cluster,
}

/// <summary>What every silo process of a run shares.</summary>
public sealed record SiloClusterOptions
{
    public SiloProfile Profile { get; init; } = SiloProfile.Cluster;

    /// <summary>On the cluster profile: the StackExchange.Redis configuration string (<c>127.0.0.1:port</c>).</summary>
    public string? Redis { get; init; }

    public string ClusterId { get; init; } = "vnodemesh";

    public string ServiceId { get; init; } = "vnodemesh";

    /// <summary>VNodeMesh.Silo.dll; by default <see cref="FindSiloDll"/>.</summary>
    public string SiloDll { get; init; } = FindSiloDll();

    /// <summary>Where each silo's output goes.</summary>
    public required string RunDirectory { get; init; }

    /// <summary>Settings of every silo (virtual nodes, provider, quota, ...).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>Arguments of every silo (e.g. <c>--kubeconfig PATH</c>).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// The silo next to this tool (the same build: a project reference copies it with its runtime
    /// configuration), else the repository's <c>silo/bin/Release/net10.0</c> above it.
    /// <c>$VNODEMESH_SILO_DLL</c> overrides both.
    /// </summary>
    public static string FindSiloDll()
    {
        if (Environment.GetEnvironmentVariable("VNODEMESH_SILO_DLL") is { Length: > 0 } given)
        {
            return Path.GetFullPath(given);
        }

        var beside = Path.Combine(AppContext.BaseDirectory, "VNodeMesh.Silo.dll");
        if (File.Exists(beside) && File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json")))
        {
            return beside;
        }

        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var built = Path.Combine(directory.FullName, "silo", "bin", "Release", "net10.0", "VNodeMesh.Silo.dll");
            if (File.Exists(built))
            {
                return built;
            }
        }

        return beside;
    }
}

/// <summary>
/// Silo processes that form one Orleans cluster, started and ended by this tool: each on free
/// ports of 127.0.0.1, with an Orleans client of the tool's own to ask the cluster where its
/// grains live. Disposing kills every silo it started.
/// </summary>
public sealed class SiloProcessCluster : IAsyncDisposable
{
    private readonly List<SiloProcess> _silos = [];
    private readonly Lock _gate = new();
    private SiloClusterClient? _client;

    private SiloProcessCluster(SiloClusterOptions options) => Options = options;

    public SiloClusterOptions Options { get; }

    /// <summary>Every silo started, in order (silo-1 first), running or not.</summary>
    public IReadOnlyList<SiloProcess> Silos
    {
        get
        {
            lock (_gate)
            {
                return [.. _silos];
            }
        }
    }

    public IReadOnlyList<SiloProcess> Running => [.. Silos.Where(s => s.IsRunning)];

    /// <summary>Starts <paramref name="count"/> silos and waits until each is an active member.</summary>
    public static async Task<SiloProcessCluster> StartAsync(SiloClusterOptions options, int count, CancellationToken cancellationToken = default)
    {
        if (options.Profile == SiloProfile.Cluster && string.IsNullOrWhiteSpace(options.Redis))
        {
            throw new ArgumentException("the cluster profile needs a Redis configuration string", nameof(options));
        }

        var cluster = new SiloProcessCluster(options);
        try
        {
            if (options.Profile == SiloProfile.Local)
            {
                // The others join silo 1, which holds the membership: it comes first.
                await cluster.AddAsync(cancellationToken);
                count--;
            }

            await Task.WhenAll(Enumerable.Range(0, count).Select(_ => cluster.AddAsync(cancellationToken)));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts one more silo (it joins the running cluster) and waits until it is an active member. A port
    /// taken by another process between choosing it and binding it is chosen again, twice at most.
    /// </summary>
    public async Task<SiloProcess> AddAsync(CancellationToken cancellationToken = default)
    {
        var silo = Launch();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await silo.WaitReadyAsync(Options.ReadyTimeout, cancellationToken);
                return silo;
            }
            catch (InvalidOperationException) when (attempt < 3 && !silo.IsRunning && silo.Tail().Contains("already in use", StringComparison.OrdinalIgnoreCase))
            {
                await silo.DisposeAsync();
                silo = Launch(silo.Index);
            }
        }
    }

    /// <summary>Starts one more silo without waiting for it; <paramref name="index"/> starts one that failed again, on new ports.</summary>
    public SiloProcess Launch(int? index = null)
    {
        var ports = LocalSiloCluster.FreePorts(3);
        SiloProcess silo;
        lock (_gate)
        {
            var number = index ?? _silos.Count + 1;
            // The others join silo 1 on the local profile: silo 1 itself names its own port.
            var primaryPort = number > 1 ? _silos[0].SiloPort : ports[0];
            var settings = new Dictionary<string, string?>(Options.Settings);
            foreach (var (key, value) in ProfileSettings(ports, primaryPort))
            {
                settings[key] = value;
            }

            silo = SiloProcess.Launch(new SiloProcessStart
            {
                Index = number,
                SiloDll = Options.SiloDll,
                RunDirectory = Options.RunDirectory,
                Settings = settings,
                Arguments = Options.Arguments,
                SiloPort = ports[0],
                GatewayPort = ports[1],
                HttpPort = ports[2],
            });
            if (number <= _silos.Count)
            {
                _silos[number - 1] = silo;
            }
            else
            {
                _silos.Add(silo);
            }
        }

        return silo;
    }

    private Dictionary<string, string?> ProfileSettings(int[] ports, int primaryPort)
    {
        string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
        return Options.Profile == SiloProfile.Cluster
            ? new()
            {
                ["VNodeMesh:Profile"] = "cluster",
                ["VNodeMesh:Cluster:Redis"] = Options.Redis,
                ["VNodeMesh:Cluster:ClusterId"] = Options.ClusterId,
                ["VNodeMesh:Cluster:ServiceId"] = Options.ServiceId,
                ["VNodeMesh:Cluster:SiloPort"] = Port(ports[0]),
                ["VNodeMesh:Cluster:GatewayPort"] = Port(ports[1]),
                ["VNodeMesh:Cluster:AdvertisedAddress"] = "127.0.0.1",
            }
            : new()
            {
                ["VNodeMesh:Profile"] = "local",
                ["VNodeMesh:Local:SiloPort"] = Port(ports[0]),
                ["VNodeMesh:Local:GatewayPort"] = Port(ports[1]),
                ["VNodeMesh:Local:PrimarySiloPort"] = Port(primaryPort),
            };
    }

    /// <summary>The tool's Orleans client of this cluster, connected on first use.</summary>
    public async Task<SiloClusterClient> ClientAsync(CancellationToken cancellationToken = default)
    {
        if (_client is null)
        {
            var client = Options.Profile == SiloProfile.Cluster
                ? await SiloClusterClient.ConnectToRedisAsync(Options.Redis!, Options.ClusterId, Options.ServiceId, cancellationToken)
                : await SiloClusterClient.ConnectToGatewaysAsync([.. Running.Select(s => s.GatewayPort)], cancellationToken);
            lock (_gate)
            {
                if (_client is null)
                {
                    _client = client;
                    client = null;
                }
            }

            if (client is not null)
            {
                await client.DisposeAsync();
            }
        }

        return _client!;
    }

    /// <summary>The silo process at this Orleans address (matched by silo port), if it is one of this cluster's.</summary>
    public SiloProcess? Find(SiloAddress? address) =>
        address is null ? null : Silos.FirstOrDefault(s => s.SiloPort == address.Endpoint.Port);

    /// <summary>The silo process hosting <paramref name="grain"/>'s activation right now, if any.</summary>
    public async Task<SiloProcess?> HostOfAsync(IAddressable grain, CancellationToken cancellationToken = default)
    {
        var client = await ClientAsync(cancellationToken);
        return Find(await client.HostOfAsync(grain));
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        // Killed, not stopped: a run's silos have nothing to hand over, and a graceful stop of
        // several silos one after the other takes long.
        foreach (var silo in Silos)
        {
            await silo.DisposeAsync();
        }
    }
}
