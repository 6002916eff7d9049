using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using StackExchange.Redis;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>
/// The tool's own Orleans client of a silo cluster in other processes: it reads grains (a virtual
/// node's summary, a pod's snapshot) and asks the management grain where activations live and which
/// silos are members. Calls time out after 10 s, so a call that met a dying silo is retried soon.
/// </summary>
public sealed class SiloClusterClient : IAsyncDisposable
{
    private static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(10);

    private readonly IHost _host;

    private SiloClusterClient(IHost host)
    {
        _host = host;
        Grains = host.Services.GetRequiredService<IClusterClient>();
    }

    public IClusterClient Grains { get; }

    private IManagementGrain Management => Grains.GetGrain<IManagementGrain>(0);

    /// <summary>A client of the cluster whose membership is in Redis.</summary>
    public static Task<SiloClusterClient> ConnectToRedisAsync(string redis, string clusterId, string serviceId, CancellationToken cancellationToken) =>
        ConnectAsync(client =>
        {
            client.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, serviceId));
        }, cancellationToken);

    /// <summary>A client of a localhost-clustering cluster (the local profile) through these gateway ports.</summary>
    public static Task<SiloClusterClient> ConnectToGatewaysAsync(int[] gatewayPorts, CancellationToken cancellationToken) =>
        ConnectAsync(client => client.UseLocalhostClustering(gatewayPorts), cancellationToken);

    private static async Task<SiloClusterClient> ConnectAsync(Action<IClientBuilder> clustering, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Error).AddFilter("Orleans", LogLevel.Critical);
        builder.UseOrleansClient(client =>
        {
            clustering(client);
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
            // A silo that joined is a gateway within seconds, one that died is dropped as soon.
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new SiloClusterClient(host);
    }

    /// <summary>The silo hosting the grain's activation, or null when it has none.</summary>
    public async Task<SiloAddress?> HostOfAsync(IAddressable grain) => await Management.GetActivationAddress(grain);

    /// <summary>Every silo of the membership table and its status (active, dead, ...).</summary>
    public Task<Dictionary<SiloAddress, SiloStatus>> MembershipAsync() => Management.GetHosts(onlyActive: false);

    /// <summary>The pod grains active right now, and where, on the given silos (all active silos when null).</summary>
    public async Task<IReadOnlyList<(Guid Pod, SiloAddress Silo)>> PodActivationsAsync(SiloAddress[]? silos = null)
    {
        var statistics = await Management.GetDetailedGrainStatistics(null, silos);
        return [.. statistics
            // The type is assembly-qualified: "VNodeMesh.Grains.PodGrain,VNodeMesh.Grains".
            .Where(s => s.GrainType is { } type && type.Split(',')[0].EndsWith(".PodGrain", StringComparison.Ordinal))
            .Select(s => (s.GrainId.GetGuidKey(), s.SiloAddress))];
    }

    public async ValueTask DisposeAsync()
    {
        // A client whose gateways are gone may wait long for a graceful close.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        catch (Exception)
        {
            // closing anyway
        }

        _host.Dispose();
    }
}
