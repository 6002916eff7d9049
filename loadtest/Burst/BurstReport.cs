using System.Text.Json;
using System.Text.Json.Serialization;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.LoadTest.Burst;

public sealed record LatencySummary(long P50, long P90, long P99, long Max);

/// <param name="CreateReplays">Creates answered with the instance an earlier create of the same client token made.</param>
public sealed record ProviderCallCounts(long Create, long DescribeStatus, long Delete, long Throttled, long CreateReplays = 0);

/// <summary>One step of a scenario and how long it took.</summary>
public sealed record StepReport(string Name, double Seconds);

/// <summary>The silos' client-side budget of pod writes in a <c>--kubernetes</c> run (set high so that the API server is the limit).</summary>
public sealed record WriteBudgetReport(double Qps, int Burst, int Concurrency);

/// <summary>
/// The physical limit in the same run: a plain client creates the same number of pods, bound to a
/// node nobody serves, with the same concurrency, and patches each one's status to Running once.
/// </summary>
public sealed record BaselineReport
{
    /// <summary>When it ran: "after" the VNodeMesh phase, with the silos still up and the VNodeMesh pods still there.</summary>
    public string Order { get; init; } = "after";
    public int Pods { get; init; }
    public int Running { get; init; }
    public int Lost { get; init; }
    public double WallSeconds { get; init; }
    public double PodsPerSecond { get; init; }
    public LatencySummary StartupLatencyMs { get; init; } = new(0, 0, 0, 0);
    /// <summary>The baseline's own requests: a create and a status patch per pod, plus retries.</summary>
    public IReadOnlyDictionary<string, long> RequestsByVerb { get; init; } = new Dictionary<string, long>();
    public CpuUsage? Cpu { get; init; }
}

/// <summary>
/// The create rate just before and just after the first silo kill, against the cluster-wide quota: instances
/// created per second in each window, and that divided by the quota's refill (null when unlimited).
/// </summary>
public sealed record CreateRateReport(double BeforeWindowSeconds, double BeforePerSecond, double AfterWindowSeconds, double AfterPerSecond,
    double? QuotaPerSecond, double? BeforeRatio, double? AfterRatio);

/// <summary>The burst scenario's report: what happened to every pod, how fast, and at what cost.</summary>
public sealed record BurstReport
{
    public string Scenario { get; init; } = "burst";
    public int Pods { get; init; }
    /// <summary>Pods per warm-up round, run and deleted before the clock started (<see cref="BurstSettings.WarmupPods"/>); not counted anywhere else.</summary>
    public int WarmupPods { get; init; }
    /// <summary>Warm-up rounds run: until one left the runtime little to compile.</summary>
    public int WarmupRounds { get; init; }
    public int Silos { get; init; }
    /// <summary>simulator, or eci: the ECI provider over HTTP to the emulator.</summary>
    public string Provider { get; init; } = "simulator";
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
    /// <summary>Instances created per second of the create window.</summary>
    public double? CreatesPerSecond { get; init; }
    /// <summary>Successful creates divided by what the quota allowed in the create window; null when unlimited.</summary>
    public double? QuotaEfficiency { get; init; }
    public int SiloKills { get; init; }
    /// <summary><c>local</c>: silos in the tool's process; <c>cluster</c>: silo processes on Redis.</summary>
    public string Profile { get; init; } = "local";
    /// <summary>With silo processes: where their output is.</summary>
    public string? RunDirectory { get; init; }
    public IReadOnlyList<SiloProcessReport>? SiloProcesses { get; init; }
    /// <summary>From the kill until the killed silo's work was owned again (see <see cref="Failover"/>); null without a kill, or when it never was.</summary>
    public double? FailoverSeconds { get; init; }
    public FailoverReport? Failover { get; init; }
    public CreateRateReport? CreateRateAroundKill { get; init; }
    /// <summary>With <c>--rolling-upgrade-at</c>: every silo replaced one at a time during the burst.</summary>
    public RollingUpgradeReport? RollingUpgrade { get; init; }
    /// <summary>Renewals of the node's Lease that came later than the renew interval plus the tolerance after the one before.</summary>
    public int? LeaseRenewalsMissed { get; init; }
    public double? LeaseMaxGapSeconds { get; init; }
    /// <summary>Whether the Lease went unrenewed for its whole duration (40 s).</summary>
    public bool? LeaseExpired { get; init; }
    /// <summary>Whether the Node's Ready condition was ever seen not True once it had been Ready.</summary>
    public bool? NodeNotReadyObserved { get; init; }
    public string? NodeNotReady { get; init; }
    public int? RedisRestarts { get; init; }
    public double? RedisDownSeconds { get; init; }
    public Cluster.ApiFaultsReport? ApiFaults { get; init; }
    /// <summary>Whether the silos ran with OpenTelemetry (<c>--telemetry on</c>), and what it scraped and exported.</summary>
    public TelemetryReport Telemetry { get; init; } = new();
    /// <summary>Whether the silos served the dashboard (<c>--dashboard on</c>), and what the tool fetched viewing it.</summary>
    public DashboardReport Dashboard { get; init; } = new();
    public IReadOnlyDictionary<string, int> PodsByStage { get; init; } = new Dictionary<string, int>();
    public IReadOnlyList<StepReport> Steps { get; init; } = [];

    /// <summary>Whether pods went through a real API server (<c>--kubernetes</c>); the fields below are null otherwise.</summary>
    public bool Kubernetes { get; init; }
    /// <summary>Whether kube-scheduler bound the pods (<c>--scheduler</c>) rather than <c>spec.nodeName</c> at creation.</summary>
    public bool Scheduler { get; init; }
    /// <summary>Pod creates (and baseline status patches) in flight at once.</summary>
    public int? CreateConcurrency { get; init; }
    public WriteBudgetReport? WriteBudget { get; init; }
    /// <summary>Requests VNodeMesh made to the API server from the first pod create until its writes settled, by verb.</summary>
    public IReadOnlyDictionary<string, long>? ApiRequestsByVerb { get; init; }
    /// <summary>The same, by "verb resource" (e.g. "patch pods/status").</summary>
    public IReadOnlyDictionary<string, long>? ApiRequestsByVerbAndResource { get; init; }
    /// <summary>The same, by HTTP status code ("error" when no response came).</summary>
    public IReadOnlyDictionary<string, long>? ApiRequestsByCode { get; init; }
    /// <summary>VNodeMesh's writes (create, update, patch, delete of any resource) in that window, divided by the pods.</summary>
    public double? WritesPerPod { get; init; }
    /// <summary>Of those, the writes about the pods on their way to Running (pods/status and pods writes, Events), divided by the pods.</summary>
    public double? WritesToRunningPerPod { get; init; }
    /// <summary>Events still queued behind their own budget when the writes were counted: writes still to come, not in the figures above.</summary>
    public int? EventWritesPending { get; init; }
    public double? BaselinePodsPerSecond { get; init; }
    /// <summary>VNodeMesh's pods per second divided by the baseline's.</summary>
    public double? BaselineRatio { get; init; }
    public BaselineReport? Baseline { get; init; }
    /// <summary>CPU while the pods were created and awaited: this process's cores and the machine's busy share.</summary>
    public CpuUsage? Cpu { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>What every burst reports alike: the run's settings, the cloud's counts and the process's cost. The scenario adds the pods' outcome.</summary>
    public static BurstReport Of(BurstSettings settings, SimulatorStatistics cloud, long retries, VirtualNodeSummary summary,
        long peakWorkingSet, double managedPerPod, int kills, IReadOnlyList<StepReport> steps)
    {
        var window = cloud.FirstCreateCallAt is { } first && cloud.LastSuccessfulCreateAt is { } last ? (last - first).TotalSeconds : 0;
        var allowed = settings.Quota.Burst + settings.Quota.PerSecond * window;
        return new BurstReport
        {
            Pods = settings.Pods,
            WarmupPods = settings.WarmupPods,
            Silos = settings.Silos,
            Provider = settings.Provider,
            Quota = settings.QuotaText,
            Latency = settings.ZeroLatency ? "zero" : "realistic",
            Faults = settings.TransientFaultRate,
            Seed = settings.Seed,
            DuplicateInstances = cloud.DuplicateInstances,
            ProviderCalls = new(cloud.CreateCalls, cloud.DescribeStatusCalls + cloud.DescribeChangedSinceCalls, cloud.DeleteCalls,
                cloud.CreateThrottled + cloud.DeleteThrottled, cloud.CreateReplays),
            Retries = retries,
            PeakWorkingSetMB = Math.Round(peakWorkingSet / 1048576.0, 1),
            ManagedBytesPerPod = Math.Round(managedPerPod),
            CreateWindowSeconds = Math.Round(window, 3),
            CreatesPerSecond = window > 0 ? Math.Round(cloud.InstancesCreated / window, 1) : null,
            QuotaEfficiency = settings.Quota.Unlimited ? null : Math.Round(cloud.InstancesCreated / allowed, 4),
            SiloKills = kills,
            PodsByStage = summary.PodsByStage.ToDictionary(p => p.Key.ToString(), p => p.Value),
            Steps = steps,
        };
    }

    /// <summary>Managed heap in use after full, compacting collections.</summary>
    public static long ManagedBytes()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
