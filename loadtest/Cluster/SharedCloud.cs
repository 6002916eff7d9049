using System.Globalization;
using VNodeMesh.Emulator;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Eci;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>
/// One cloud for silos in other processes: the ECI emulator on 127.0.0.1 over a simulator in this
/// process. Every silo reaches it over signed HTTP with the ECI provider, so its instances, its own
/// quota and its count of duplicate instances are one account's, counted in one place.
/// </summary>
public sealed class SharedCloud : IAsyncDisposable
{
    private SharedCloud(SimulatorOptions options, SimulatedCloud simulator, EciEmulator emulator)
    {
        Options = options;
        Simulator = simulator;
        Emulator = emulator;
    }

    /// <summary>The simulator's options, live: its fault rates can be changed while it runs.</summary>
    public SimulatorOptions Options { get; }

    public SimulatedCloud Simulator { get; }

    public EciEmulator Emulator { get; }

    public static async Task<SharedCloud> StartAsync(SimulatorOptions options)
    {
        var simulator = new SimulatedCloud(options);
        var emulator = await EciEmulator.StartAsync(new EciEmulatorOptions { Port = 0, Region = options.Region }, simulator);
        return new SharedCloud(options, simulator, emulator);
    }

    /// <summary>The settings that make a silo use this cloud (<c>VNodeMesh:Provider:Name=eci</c>) under this account budget.</summary>
    public Dictionary<string, string?> SiloSettings(ProviderQuotaOptions quota)
    {
        var eci = Emulator.ClientOptions();
        var settings = new Dictionary<string, string?>
        {
            [$"{ProviderOptions.Section}:{nameof(ProviderOptions.Name)}"] = EciProvider.ProviderName,
            [$"{EciOptions.Section}:{nameof(EciOptions.Endpoint)}"] = eci.Endpoint!.ToString(),
            [$"{EciOptions.Section}:{nameof(EciOptions.Region)}"] = eci.Region,
            [$"{EciOptions.Section}:{nameof(EciOptions.AccessKeyId)}"] = eci.AccessKeyId,
            [$"{EciOptions.Section}:{nameof(EciOptions.AccessKeySecret)}"] = eci.AccessKeySecret,
            [$"{EciOptions.Section}:{nameof(EciOptions.SecurityGroup)}"] = eci.SecurityGroup,
            [$"{ProviderQuotaOptions.Section}:{nameof(ProviderQuotaOptions.Unlimited)}"] = quota.Unlimited ? "true" : "false",
            [$"{ProviderQuotaOptions.Section}:{nameof(ProviderQuotaOptions.Burst)}"] = quota.Burst.ToString(CultureInfo.InvariantCulture),
            [$"{ProviderQuotaOptions.Section}:{nameof(ProviderQuotaOptions.PerSecond)}"] = quota.PerSecond.ToString(CultureInfo.InvariantCulture),
        };
        for (var i = 0; i < eci.VSwitches.Count; i++)
        {
            settings[$"{EciOptions.Section}:{nameof(EciOptions.VSwitches)}:{i}"] = eci.VSwitches[i];
        }

        return settings;
    }

    public ValueTask DisposeAsync() => Emulator.DisposeAsync();
}
