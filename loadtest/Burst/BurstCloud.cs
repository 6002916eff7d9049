using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VNodeMesh.Contracts.Provider;
using VNodeMesh.Emulator;
using VNodeMesh.Silo.Hosting;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Eci;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// The cloud a burst runs against, shared by every silo of the run behind one account budget: the
/// simulator in this process, or (<c>--provider eci</c>) the same simulator behind the ECI emulator on
/// 127.0.0.1, reached by the ECI provider over signed HTTP.
/// </summary>
public sealed class BurstCloud : IAsyncDisposable
{
    private readonly PacedInstanceProvider _paced;

    private BurstCloud(SimulatedCloud simulator, EciEmulator? emulator, IInstanceProvider cloud, ProviderQuotaOptions quota)
    {
        Simulator = simulator;
        Emulator = emulator;
        _paced = new PacedInstanceProvider(cloud, quota);
    }

    public SimulatedCloud Simulator { get; }

    public EciEmulator? Emulator { get; }

    /// <summary>What the silos call: the cloud behind the account's pacing.</summary>
    public IInstanceProvider Provider => _paced;

    public static async Task<BurstCloud> StartAsync(BurstSettings settings)
    {
        var simulator = new SimulatedCloud(settings.SimulatorOptions());
        if (settings.Provider != EciProvider.ProviderName)
        {
            return new BurstCloud(simulator, null, simulator, settings.Quota);
        }

        var emulator = await EciEmulator.StartAsync(new EciEmulatorOptions { Port = 0, Region = settings.SimulatorOptions().Region }, simulator);
        var options = Options.Create(emulator.ClientOptions());
        var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) });
        var api = new EciApiClient(http, options, TimeProvider.System, NullLogger<EciApiClient>.Instance);
        var eci = new EciProvider(api, options, Options.Create(new NodesOptions()), new NoPodReferences());
        return new BurstCloud(simulator, emulator, eci, settings.Quota);
    }

    public async ValueTask DisposeAsync()
    {
        _paced.Dispose();
        if (Emulator is not null)
        {
            await Emulator.DisposeAsync();
        }
    }
}
