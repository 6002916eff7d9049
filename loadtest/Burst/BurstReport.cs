using System.Text.Json;
using System.Text.Json.Serialization;

namespace VNodeMesh.LoadTest.Burst;

public sealed record LatencySummary(long P50, long P90, long P99, long Max);

public sealed record ProviderCallCounts(long Create, long DescribeStatus, long Delete, long Throttled);

/// <summary>One step of a scenario and how long it took.</summary>
public sealed record StepReport(string Name, double Seconds);

/// <summary>The burst scenario's report: what happened to every pod, how fast, and at what cost.</summary>
public sealed record BurstReport
{
    public string Scenario { get; init; } = "burst";
    public int Pods { get; init; }
    public int Silos { get; init; }
    public string Quota { get; init; } = "";
    public string Latency { get; init; } = "";
    public double Faults { get; init; }
    public int Seed { get; init; }
    public int Running { get; init; }
    public int Succeeded { get; init; }
    public int Failed { get; init; }
    /// <summary>Pods that reached neither Running nor a terminal state by the deadline.</summary>
    public int Lost { get; init; }
    /// <summary>Pods with more than one instance, counted by the provider.</summary>
    public int DuplicateInstances { get; init; }
    public double WallSeconds { get; init; }
    public double PodsPerSecond { get; init; }
    public LatencySummary StartupLatencyMs { get; init; } = new(0, 0, 0, 0);
    public ProviderCallCounts ProviderCalls { get; init; } = new(0, 0, 0, 0);
    public long Retries { get; init; }
    public double PeakWorkingSetMB { get; init; }
    public double ManagedBytesPerPod { get; init; }
    public double CreateWindowSeconds { get; init; }
    /// <summary>Successful creates divided by what the quota allowed in the create window; null when unlimited.</summary>
    public double? QuotaEfficiency { get; init; }
    public int SiloKills { get; init; }
    public IReadOnlyDictionary<string, int> PodsByStage { get; init; } = new Dictionary<string, int>();
    public IReadOnlyList<StepReport> Steps { get; init; } = [];

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
