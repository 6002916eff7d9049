using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Hosting;
using VNodeMesh.Contracts.Provider;
using VNodeMesh.Silo.Hosting;
using VNodeMesh.Silo.Local;
using VNodeMesh.Silo.Telemetry;
using VNodeMesh.Silo.Web.Dashboard;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// Several silos of the local profile in this process, sharing one <see cref="LocalStore"/> and one
/// provider (one cloud, one account budget), as separate processes share Redis and the cloud.
/// </summary>
public sealed class LocalSiloCluster : IAsyncDisposable
{
    private readonly List<IHost?> _silos;
    private readonly List<Uri> _addresses;

    private LocalSiloCluster(List<IHost?> silos, List<Uri> addresses, LocalStore store)
    {
        _silos = silos;
        _addresses = addresses;
        Store = store;
    }

    public LocalStore Store { get; }

    /// <summary>The grain factory of the first (primary) silo, which is never killed.</summary>
    public IGrainFactory Grains => _silos[0]!.Services.GetRequiredService<IGrainFactory>();

    /// <summary>Each silo's Prometheus scrape endpoint, when the silos run with telemetry.</summary>
    public IReadOnlyList<Uri> MetricsEndpoints { get; private init; } = [];

    /// <summary>The HTTP address of every silo still running, when the silos serve HTTP (telemetry or the dashboard).</summary>
    public IReadOnlyList<Uri> HttpAddresses => [.. _addresses.Where((_, i) => _silos[i] is not null)];

    /// <param name="kubernetes">Whether the silos get the Kubernetes bridge (<c>UseKubernetes</c>); its settings come from <paramref name="settings"/>.</param>
    /// <param name="telemetry">
    /// Whether the silos run with OpenTelemetry (<c>AddVNodeMeshTelemetry</c>, from the <c>VNodeMesh:Telemetry</c> settings) and
    /// serve HTTP on 127.0.0.1 as a silo process does, for the Prometheus scrape endpoint.
    /// </param>
    /// <param name="dashboard">
    /// Whether the silos serve the dashboard as a silo process does (<c>AddVNodeMeshDashboard</c>, from the <c>VNodeMesh:Dashboard</c>
    /// settings, Orleans' own dashboard included unless they turn it off), over HTTP on 127.0.0.1 like telemetry.
    /// </param>
    public static async Task<LocalSiloCluster> StartAsync(int count, IInstanceProvider provider, IReadOnlyDictionary<string, string?> settings,
        bool kubernetes = false, bool telemetry = false, bool dashboard = false)
    {
        var store = new LocalStore();
        var ports = FreePorts(count * 2);
        var silos = new List<IHost?>();
        var addresses = new List<Uri>();
        var metrics = new List<Uri>();
        for (var i = 0; i < count; i++)
        {
            IHostApplicationBuilder builder = telemetry || dashboard
                ? WebApplication.CreateEmptyBuilder(new WebApplicationOptions())
                : Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                [$"{LocalProfileOptions.Section}:SiloPort"] = ports[i].ToString(),
                [$"{LocalProfileOptions.Section}:GatewayPort"] = ports[count + i].ToString(),
                [$"{LocalProfileOptions.Section}:PrimarySiloPort"] = ports[0].ToString(),
            });
            builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning).AddFilter("Orleans", LogLevel.Error);
            builder.Services.AddSingleton(store);
            builder.Services.AddSingleton(provider);
            builder.UseOrleans(silo =>
            {
                silo.UseLocalProfile(builder.Configuration).AddVNodeMesh(builder.Configuration);
                if (kubernetes)
                {
                    silo.UseKubernetes(builder.Configuration);
                }

                if (dashboard)
                {
                    silo.AddVNodeMeshDashboard(builder.Configuration);
                }
            });
            if (builder is WebApplicationBuilder web)
            {
                web.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
                web.Services.AddRouting();
                if (telemetry)
                {
                    web.AddVNodeMeshTelemetry();
                }

                var app = web.Build();
                if (telemetry)
                {
                    app.MapVNodeMeshTelemetry();
                }

                if (dashboard)
                {
                    app.MapVNodeMeshDashboard();
                }

                await app.StartAsync();
                silos.Add(app);
                var address = new Uri(app.Urls.First());
                addresses.Add(address);
                if (telemetry)
                {
                    var path = app.Configuration[$"{TelemetryOptions.Section}:Prometheus:Path"] ?? "/metrics";
                    metrics.Add(new Uri(address, path));
                }
            }
            else
            {
                var host = ((HostApplicationBuilder)builder).Build();
                await host.StartAsync();
                silos.Add(host);
            }
        }

        return new LocalSiloCluster(silos, addresses, store) { MetricsEndpoints = metrics };
    }

    /// <summary>A service of every running silo (e.g. each silo's Kubernetes status writer).</summary>
    public IEnumerable<T> Services<T>() where T : notnull =>
        _silos.OfType<IHost>().Select(h => h.Services.GetService<T>()).OfType<T>();

    /// <summary>Ends silo <paramref name="index"/> without a graceful shutdown: its activations are simply lost.</summary>
    public async Task KillAsync(int index)
    {
        if (index == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(index), "the primary silo holds the local membership and is not killed");
        }

        var host = _silos[index] ?? throw new InvalidOperationException($"silo {index} is already down");
        _silos[index] = null;
        using var abort = new CancellationTokenSource();
        await abort.CancelAsync();
        try
        {
            await host.StopAsync(abort.Token); // a cancelled stop skips the graceful hand-over
        }
        catch (OperationCanceledException)
        {
        }

        host.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _silos.Count - 1; i >= 0; i--)
        {
            if (_silos[i] is { } host)
            {
                await host.StopAsync(TimeSpan.FromSeconds(10));
                host.Dispose();
            }
        }
    }

    /// <summary>Ports free on 127.0.0.1 right now.</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}
