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
    /// <summary><c>simulator</c> in process, or <c>eci</c>: the ECI provider over HTTP to the emulator (the same simulator behind it).</summary>
    public string Provider { get; init; } = "simulator";
    public bool ZeroLatency { get; init; }
    public double TransientFaultRate { get; init; }
    public double ThrottleFaultRate { get; init; }
    public int Seed { get; init; } = 1;
    public TimeSpan? Timeout { get; init; }
    public int BatchSize { get; init; } = 500;

    /// <summary>
    /// Pods per warm-up round, run to Running and deleted before the clock starts (the embedded burst only). A cold
    /// process's first pods pay for compiling its code paths and for the runtime's later recompilation of the hot
    /// ones, which in a cold 50,000-pod burst takes a quarter to a third of its CPU; a long-running silo paid that long
    /// before the burst came.
    /// </summary>
    public int WarmupPods { get; init; }

    /// <summary>The warm-up when none is asked for: 2,000 pods a round when the cloud has no budget to spend on it, otherwise none.</summary>
    public int DefaultWarmupPods => Quota.Unlimited && !Kubernetes ? Math.Min(2000, Pods) : 0;
    public string? ReportPath { get; init; }
    /// <summary>Kill (without a graceful stop) silo 1 once this fraction of the pods has been submitted.</summary>
    public double? KillSiloAt { get; init; }

    /// <summary>Whether silo 1 is to be killed now, given the kills so far and the pods settled.</summary>
    public bool KillIsDue(int kills, int settled) => KillSiloAt is { } at && kills == 0 && Silos > 1 && settled >= at * Pods;

    /// <summary>Run the silos with OpenTelemetry: spans and metrics exported over OTLP to a local collector, and scraped by Prometheus' rules.</summary>
    public bool Telemetry { get; init; }

    /// <summary>With <see cref="Telemetry"/>: the silos' trace sampling ratio; null: the silo's default.</summary>
    public double? TraceSamplingRatio { get; init; }

    /// <summary>With <see cref="Telemetry"/>: trace Orleans too (<c>VNodeMesh:Telemetry:Traces:Orleans</c>).</summary>
    public bool TraceOrleans { get; init; }

    /// <summary>
    /// Run the silos with the dashboard as a silo process does (Orleans' own dashboard included), and view it from the
    /// tool every second while the burst runs.
    /// </summary>
    public bool Dashboard { get; init; }

    /// <summary>With <see cref="Dashboard"/>: Orleans' dashboard times grain calls (<c>VNodeMesh:Dashboard:ProfileGrainCalls</c>).</summary>
    public bool ProfileGrainCalls { get; init; }

    /// <summary>Run against a real API server: pods are created through it and the silos serve them through the Kubernetes bridge.</summary>
    public bool Kubernetes { get; init; }

    /// <summary>The kubeconfig of that API server; <c>$KUBECONFIG</c> when not given.</summary>
    public string? Kubeconfig { get; init; }

    /// <summary>Leave pods unbound (node selector and toleration) so that kube-scheduler binds them, instead of setting <c>spec.nodeName</c>.</summary>
    public bool UseScheduler { get; init; }

    /// <summary>Pod creates in flight at once, in the VNodeMesh phase and in the baseline alike (the baseline's status patches too).</summary>
    public int CreateConcurrency { get; init; } = 32;

    /// <summary>
    /// The silos' client-side write budget (<c>VNodeMesh:Kubernetes:WriteQps</c>, <c>WriteBurst</c>): high by default,
    /// so that the API server, not the budget, is the limit being measured.
    /// </summary>
    public double WriteQps { get; init; } = 5000;

    public int WriteBurst { get; init; } = 5000;

    /// <summary>The silos' status writes in flight (<c>VNodeMesh:Kubernetes:WriteConcurrency</c>); the bridge's default.</summary>
    public int WriteConcurrency { get; init; } = 32;

    /// <summary>Measure the plain-client baseline after the VNodeMesh phase.</summary>
    public bool Baseline { get; init; } = true;

    /// <summary>
    /// <c>local</c>: the silos run in this process (the local profile). <c>cluster</c> (with <see cref="Kubernetes"/>):
    /// each silo is a process of its own on the cluster profile, with membership, state, reminders and the
    /// provider budget in Redis, against one ECI emulator in this process.
    /// </summary>
    public string Profile { get; init; } = "local";

    /// <summary>Whether the silos are processes of their own (<see cref="Profile"/> <c>cluster</c>).</summary>
    public bool SiloProcesses => Profile == "cluster";

    /// <summary>With the cluster profile: an existing Redis (<c>host:port</c>); by default the tool starts its own.</summary>
    public string? Redis { get; init; }

    /// <summary>
    /// With the cluster profile: replace every silo, one at a time, once this fraction of the pods runs
    /// (<see cref="Burst.RollingUpgrade"/>).
    /// </summary>
    public double? RollingUpgradeAt { get; init; }

    /// <summary>With the cluster profile: kill Redis (SIGKILL) and start it again on the same port and data once this fraction of the pods runs.</summary>
    public double? RestartRedisAt { get; init; }

    /// <summary>Put a proxy between the silos and the API server that breaks their watches and provokes 410 Gone.</summary>
    public bool ApiFaults { get; init; }

    /// <summary>Every this long the proxy breaks the silos' watches (<see cref="ApiFaults"/>)...</summary>
    public TimeSpan ApiFaultPeriod { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>...and every other time holds their reconnections this long, past the API server's compaction.</summary>
    public TimeSpan ApiFaultHold { get; init; } = TimeSpan.FromSeconds(25);

    /// <summary>With silo processes: where their output goes (default: a new directory under the temporary directory, kept after the run).</summary>
    public string? RunDirectory { get; init; }

    /// <summary>Settings given to every silo on top of the run's own (e.g. <c>VNodeMesh:Pods:RetryMaxDelay</c>).</summary>
    public IReadOnlyDictionary<string, string?> ExtraSiloSettings { get; init; } = new Dictionary<string, string?>();

    /// <summary>How often the silos renew the node's Lease, and how much later a renewal may come before it counts as missed.</summary>
    public TimeSpan LeaseRenewInterval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan LeaseTolerance { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The time the run may take before pods that got nowhere count as lost. Through an API server
    /// (<see cref="Kubernetes"/>) the server is the limit, so every pod may take 40 ms more (25 pods/s).
    /// </summary>
    public TimeSpan EffectiveTimeout => Timeout ?? TimeSpan.FromSeconds(120
        + Math.Max(Kubernetes ? Pods / 25.0 : 0, Quota.Unlimited ? Pods / 500.0 : Math.Max(0, Pods - Quota.Burst) / Quota.PerSecond * 1.5));

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
