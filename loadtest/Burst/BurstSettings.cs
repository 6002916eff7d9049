using System.Globalization;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>What one burst run does: how many pods, on how many silos, against which simulated cloud.</summary>
public sealed record BurstSettings
{
    public int Pods { get; init; } = 1000;
    public int Silos { get; init; } = 1;
    public string Node { get; init; } = "vnodemesh-virtual-node";
    public ProviderQuotaOptions Quota { get; init; } = new();
    public bool ZeroLatency { get; init; }
    public double TransientFaultRate { get; init; }
    public double ThrottleFaultRate { get; init; }
    public int Seed { get; init; } = 1;
    public TimeSpan? Timeout { get; init; }
    public int BatchSize { get; init; } = 500;
    public string? ReportPath { get; init; }
    /// <summary>Kill (without a graceful stop) silo 1 once this fraction of the pods has been submitted.</summary>
    public double? KillSiloAt { get; init; }

    /// <summary>The time the run may take before pods that got nowhere count as lost.</summary>
    public TimeSpan EffectiveTimeout => Timeout ?? TimeSpan.FromSeconds(120 + (Quota.Unlimited ? Pods / 500.0 : Math.Max(0, Pods - Quota.Burst) / Quota.PerSecond * 1.5));

    public string QuotaText => Quota.Unlimited ? "unlimited" : $"{Quota.Burst}/{Quota.PerSecond.ToString(CultureInfo.InvariantCulture)}";

    public SimulatorOptions SimulatorOptions()
    {
        var options = ZeroLatency ? Silo.Providers.Simulator.SimulatorOptions.ZeroLatency() : Silo.Providers.Simulator.SimulatorOptions.Realistic();
        options.Seed = Seed;
        options.QuotaUnlimited = Quota.Unlimited;
        options.QuotaBurst = Quota.Burst;
        options.QuotaPerSecond = Quota.PerSecond;
        options.TransientErrorRate = TransientFaultRate;
        options.ThrottleRate = ThrottleFaultRate;
        return options;
    }

    /// <summary>Parses <c>&lt;burst&gt;/&lt;per-second&gt;</c> or <c>unlimited</c>.</summary>
    public static ProviderQuotaOptions ParseQuota(string text)
    {
        if (text.Equals("unlimited", StringComparison.OrdinalIgnoreCase))
        {
            return new ProviderQuotaOptions { Unlimited = true };
        }

        var parts = text.Split('/');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var burst) && burst > 0
            && double.TryParse(parts[1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var perSecond) && perSecond > 0)
        {
            return new ProviderQuotaOptions { Burst = burst, PerSecond = perSecond };
        }

        throw new FormatException($"--quota '{text}' is neither <burst>/<per-second> (e.g. 100/20) nor 'unlimited'");
    }
}
