using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Hosting;
using VNodeMesh.Contracts.Provider;
using VNodeMesh.Silo.Hosting;
using VNodeMesh.Silo.Local;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// Several silos of the local profile in this process, sharing one <see cref="LocalStore"/> and one
/// provider (one cloud, one account budget), as separate processes share Redis and the cloud.
/// </summary>
public sealed class LocalSiloCluster : IAsyncDisposable
{
    private readonly List<IHost?> _silos;

    private LocalSiloCluster(List<IHost?> silos, LocalStore store)
    {
        _silos = silos;
        Store = store;
    }

    public LocalStore Store { get; }

    /// <summary>The grain factory of the first (primary) silo, which is never killed.</summary>
    public IGrainFactory Grains => _silos[0]!.Services.GetRequiredService<IGrainFactory>();

    /// <param name="kubernetes">Whether the silos get the Kubernetes bridge (<c>UseKubernetes</c>); its settings come from <paramref name="settings"/>.</param>
    public static async Task<LocalSiloCluster> StartAsync(int count, IInstanceProvider provider, IReadOnlyDictionary<string, string?> settings, bool kubernetes = false)
    {
        var store = new LocalStore();
        var ports = FreePorts(count * 2);
        var silos = new List<IHost?>();
        for (var i = 0; i < count; i++)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
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
            });
            var host = builder.Build();
            await host.StartAsync();
            silos.Add(host);
        }

        return new LocalSiloCluster(silos, store);
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
