using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Silo.Web;

namespace VNodeMesh.Tests.Dashboard;

/// <summary>
/// A real silo process's host (<see cref="SiloHost"/>): HTTP on a free port, the local profile on
/// free silo and gateway ports (so it never meets another silo on this machine), the simulator.
/// </summary>
public sealed class DashboardSilo : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DashboardSilo(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    public IGrainFactory Grains => _app.Services.GetRequiredService<IGrainFactory>();

    public static async Task<DashboardSilo> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var ports = LocalSiloCluster.FreePorts(2);
        var all = new Dictionary<string, string?>
        {
            ["VNodeMesh:Http:Port"] = "0",
            ["VNodeMesh:Local:SiloPort"] = ports[0].ToString(),
            ["VNodeMesh:Local:PrimarySiloPort"] = ports[0].ToString(),
            ["VNodeMesh:Local:GatewayPort"] = ports[1].ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans"] = "Error",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var app = SiloHost.CreateBuilder([.. all.Select(s => $"--{s.Key}={s.Value}")]).Build();
        app.MapSiloEndpoints();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DashboardSilo(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
    }
}
