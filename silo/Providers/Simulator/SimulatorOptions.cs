using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Providers.Simulator;

/// <summary>Latency presets: <see cref="Realistic"/> uses the configured distributions, <see cref="Zero"/> ignores them.</summary>
public enum SimulatorLatency
{
    Realistic,
    Zero,
}

/// <summary>
/// A log-normal latency given by its median and 99th percentile, in seconds.
/// 0/0 means no latency; P99 equal to Median means a constant latency.
/// </summary>
public sealed class LatencyDistribution
{
    public LatencyDistribution()
    {
    }

    public LatencyDistribution(double median, double p99)
    {
        Median = median;
        P99 = p99;
    }

    public double Median { get; set; }

    public double P99 { get; set; }

    public static LatencyDistribution Zero => new(0, 0);

    public override string ToString() => $"median {Median}s p99 {P99}s";
}

/// <summary>
/// The embedded simulated cloud (configuration section <c>Simulator</c>): ECI-like API budget,
/// status latencies and fault injection, all deterministic under <see cref="Seed"/>.
/// </summary>
public sealed class SimulatorOptions
{
    public const string SectionName = "Simulator";

    /// <summary>The zone used when <see cref="Zones"/> is empty: <c>&lt;Region&gt;-a</c>.</summary>
    public const string DefaultZoneSuffix = "-a";

    /// <summary>An image containing this substring is always an invalid spec.</summary>
    public const string InvalidImageMarker = "invalid/";

    /// <summary>Token-bucket size shared by CreateContainerGroup and DeleteContainerGroup (ECI: 100).</summary>
    [Range(1, 10_000_000)]
    public int QuotaBurst { get; set; } = 100;

    /// <summary>Token-bucket refill per second (ECI: 20).</summary>
    [Range(0.001, 10_000_000.0)]
    public double QuotaPerSecond { get; set; } = 20;

    /// <summary>Disables the token bucket (scale tests of everything but the API budget).</summary>
    public bool QuotaUnlimited { get; set; }

    /// <summary><see cref="SimulatorLatency.Zero"/> makes every instance Running at creation.</summary>
    public SimulatorLatency Latency { get; set; } = SimulatorLatency.Realistic;

    /// <summary>Scheduling → Pending.</summary>
    [Required]
    public LatencyDistribution SchedulingSeconds { get; set; } = new(1, 3);

    /// <summary>Pending → Running (image pull and container start).</summary>
    [Required]
    public LatencyDistribution PendingSeconds { get; set; } = new(4, 15);

    /// <summary>Share of create/delete calls that fail with ServiceUnavailable (never creating anything).</summary>
    [Range(0.0, 1.0)]
    public double TransientErrorRate { get; set; }

    /// <summary>Share of create/delete calls throttled even when the token bucket has tokens.</summary>
    [Range(0.0, 1.0)]
    public double ThrottleRate { get; set; }

    /// <summary>Zones without stock: creation falls over to the other zones, and fails with NoStock when none is left.</summary>
    public List<string> NoStockZones { get; set; } = [];

    /// <summary>Spec texts (<c>2-4Gi</c>, <c>ecs.c6.xlarge</c>) without stock in any zone.</summary>
    public List<string> NoStockSpecs { get; set; } = [];

    /// <summary>
    /// Images rejected as a permanent InvalidParameter.Image. Any image containing
    /// <see cref="InvalidImageMarker"/> (e.g. <c>registry/invalid/app</c>) is rejected too.
    /// </summary>
    public List<string> InvalidImages { get; set; } = [];

    /// <summary>
    /// Zones instances are spread over. Empty (the default) means one zone, <c>&lt;Region&gt;-a</c>
    /// (<c>cn-hangzhou-a</c>): configuration binding appends to a non-empty default list instead of replacing it.
    /// </summary>
    public List<string> Zones { get; set; } = [];

    [Required(AllowEmptyStrings = false)]
    public string Region { get; set; } = "cn-hangzhou";

    /// <summary>Every random decision is a hash of this seed and the request, so runs are reproducible.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>How long terminal instances stay queryable (ECI: 1 hour).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan TerminalRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The zones in effect: <see cref="Zones"/>, or <c>&lt;Region&gt;-a</c> when it is empty.</summary>
    public IReadOnlyList<string> EffectiveZones => Zones.Count > 0 ? Zones : [Region + DefaultZoneSuffix];

    /// <summary>The defaults: realistic latencies, ECI's API budget, no faults.</summary>
    public static SimulatorOptions Realistic() => new();

    /// <summary>Instances are Running as soon as they are created.</summary>
    public static SimulatorOptions ZeroLatency() => new()
    {
        Latency = SimulatorLatency.Zero,
        SchedulingSeconds = LatencyDistribution.Zero,
        PendingSeconds = LatencyDistribution.Zero,
    };
}

/// <summary>The cross-field rules DataAnnotations cannot express (nested latencies, zone lists).</summary>
public sealed class SimulatorOptionsValidator : IValidateOptions<SimulatorOptions>
{
    public ValidateOptionsResult Validate(string? name, SimulatorOptions options)
    {
        var failures = new List<string>();
        CheckLatency(nameof(SimulatorOptions.SchedulingSeconds), options.SchedulingSeconds, failures);
        CheckLatency(nameof(SimulatorOptions.PendingSeconds), options.PendingSeconds, failures);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var zone in options.Zones)
        {
            if (string.IsNullOrWhiteSpace(zone))
            {
                failures.Add($"{SimulatorOptions.SectionName}:{nameof(SimulatorOptions.Zones)} contains an empty zone id.");
            }
            else if (!seen.Add(zone))
            {
                failures.Add($"{SimulatorOptions.SectionName}:{nameof(SimulatorOptions.Zones)} lists zone '{zone}' twice.");
            }
        }

        if (options.TerminalRetention < TimeSpan.Zero)
        {
            failures.Add($"{SimulatorOptions.SectionName}:{nameof(SimulatorOptions.TerminalRetention)} must not be negative.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckLatency(string field, LatencyDistribution? latency, List<string> failures)
    {
        var key = $"{SimulatorOptions.SectionName}:{field}";
        if (latency is null)
        {
            failures.Add($"{key} is required.");
            return;
        }

        if (!double.IsFinite(latency.Median) || !double.IsFinite(latency.P99) || latency.Median < 0 || latency.P99 < 0)
        {
            failures.Add($"{key}: Median and P99 must be finite and not negative (got {latency}).");
        }
        else if (latency.P99 < latency.Median)
        {
            failures.Add($"{key}: P99 must be at least Median (got {latency}).");
        }
        else if (latency.Median == 0 && latency.P99 > 0)
        {
            // A log-normal needs a positive median; 0/0 is the only zero-latency form.
            failures.Add($"{key}: Median 0 requires P99 0 (got {latency}).");
        }
    }
}
