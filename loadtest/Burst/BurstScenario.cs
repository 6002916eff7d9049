using System.Diagnostics;
using System.Runtime;
using Spectre.Console;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// The burst scenario: start the silos, submit every pod straight to the virtual node grain
/// (step "submit"), wait until each pod runs or ends (step "await-running"), and report. Before the clock
/// starts, a warm-up (step "warm-up") runs pods through the same silos until the runtime has compiled their paths.
/// </summary>
public sealed class BurstScenario(BurstSettings settings, IAnsiConsole console)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>A warm-up round that compiled fewer methods than this leaves the burst little to compile.</summary>
    private const int WarmMethodsPerRound = 300;
    private const int MaxWarmupRounds = 5;

    public async Task<BurstReport> RunAsync(CancellationToken cancellationToken = default)
    {
        await using var cloud = await BurstCloud.StartAsync(settings);
        var steps = new List<StepReport>();

        var started = Stopwatch.StartNew();
        await using var telemetry = await BurstTelemetry.StartAsync(settings);
        await using var dashboard = BurstDashboard.Start(settings);
        var siloSettings = new Dictionary<string, string?>
        {
            ["VNodeMesh:Nodes:Items:0:Name"] = settings.Node,
            ["VNodeMesh:Pods:WatchdogPeriod"] = "00:00:10",
        };
        siloSettings = telemetry?.SiloSettings(siloSettings) ?? siloSettings;
        siloSettings = dashboard?.SiloSettings(siloSettings) ?? siloSettings;
        await using var cluster = await LocalSiloCluster.StartAsync(settings.Silos, cloud.Provider, siloSettings,
            telemetry: telemetry is not null, dashboard: dashboard is not null);
        if (telemetry is not null)
        {
            await telemetry.StartScrapingAsync(cluster.MetricsEndpoints);
        }

        if (dashboard is not null)
        {
            await dashboard.StartViewingAsync(cluster);
        }

        var node = cluster.Grains.GetGrain<IVirtualNodeGrain>(settings.Node);
        await node.GetSummary();
        steps.Add(new("start-silos", started.Elapsed.TotalSeconds));
        var warmupRounds = 0;
        if (settings.WarmupPods > 0)
        {
            var warming = Stopwatch.StartNew();
            warmupRounds = await WarmUpAsync(node, cloud, cancellationToken);
            steps.Add(new("warm-up", warming.Elapsed.TotalSeconds));
        }

        using var metrics = new LifecycleMetrics();

        var baselineBytes = BurstReport.ManagedBytes();
        var peakWorkingSet = 0L;
        var runId = Guid.NewGuid().ToString("N")[..8];
        var cpu = CpuUsage.Start();
        var clock = Stopwatch.StartNew();
        var kills = 0;

        var submit = SubmitAsync(node, runId, dashboard, cancellationToken);
        VirtualNodeSummary summary;
        var lastPrint = TimeSpan.Zero;
        var submittedAt = TimeSpan.Zero;
        while (true)
        {
            await Task.Delay(ProgressInterval, cancellationToken);
            summary = await node.GetSummary();
            peakWorkingSet = Math.Max(peakWorkingSet, Process.GetCurrentProcess().WorkingSet64);
            if (submit.IsCompleted && submittedAt == TimeSpan.Zero)
            {
                await submit;
                submittedAt = clock.Elapsed;
            }

            var settled = Settled(summary);
            if (settings.KillIsDue(kills, settled))
            {
                await cluster.KillAsync(1);
                kills++;
                console.MarkupLine($"[yellow]killed silo 1 at {clock.Elapsed.TotalSeconds:0.0}s ({settled} pods settled)[/]");
            }

            if (clock.Elapsed - lastPrint >= TimeSpan.FromSeconds(1))
            {
                lastPrint = clock.Elapsed;
                console.MarkupLine($"[grey]{clock.Elapsed.TotalSeconds,6:0.0}s[/] {Describe(summary)}");
            }

            if ((submit.IsCompleted && settled >= settings.Pods) || clock.Elapsed >= settings.EffectiveTimeout)
            {
                break;
            }
        }

        var wall = clock.Elapsed;
        var cpuUsed = cpu.Stop();
        steps.Add(new("submit", submittedAt.TotalSeconds));
        steps.Add(new("await-running", (wall - submittedAt).TotalSeconds));
        var managedPerPod = (BurstReport.ManagedBytes() - baselineBytes) / (double)settings.Pods;
        return Report(summary, cloud.Simulator.Statistics, metrics, wall, peakWorkingSet, managedPerPod, kills, steps) with
        {
            Telemetry = telemetry?.Report() ?? new TelemetryReport(),
            Dashboard = dashboard?.Report() ?? new DashboardReport(),
            Cpu = cpuUsed,
            WarmupRounds = warmupRounds,
        };
    }

    /// <summary>
    /// Runs rounds of <see cref="BurstSettings.WarmupPods"/> pods to Running and deletes them, until a round leaves the
    /// runtime little to compile, then starts the cloud's counters again. The runtime compiles a method quickly first
    /// and again, optimized, once it has been called often enough, on one background thread: a cold burst keeps that
    /// thread busy throughout, and runs slower code while it waits. Each round lets the next tier's call counts
    /// accumulate. A warm-up pod that does not run in time, or a duplicate instance, fails the run.
    /// </summary>
    /// <returns>The rounds run.</returns>
    private async Task<int> WarmUpAsync(IVirtualNodeGrain node, BurstCloud cloud, CancellationToken cancellationToken)
    {
        var rounds = 0;
        long compiled;
        do
        {
            rounds++;
            var before = JitInfo.GetCompiledMethodCount();
            var pods = Enumerable.Range(0, settings.WarmupPods).Select(i => BurstPods.Create(i, $"warmup{rounds}")).ToList();
            await Task.WhenAll(pods.Chunk(settings.BatchSize).Select(batch => SubmitWithRetryAsync(node, batch, cancellationToken)));
            var round = Stopwatch.StartNew();
            await WaitForAsync(node, summary => Settled(summary) >= pods.Count, "to run", round, cancellationToken);
            await node.DeletePods([.. pods.Select(p => p.Uid)]);
            await WaitForAsync(node, summary => summary.Pods == 0, "to be deleted", round, cancellationToken);
            await CompilationSettledAsync(cancellationToken);
            compiled = JitInfo.GetCompiledMethodCount() - before;
        }
        while (compiled > WarmMethodsPerRound && rounds < MaxWarmupRounds);

        if (cloud.Simulator.Statistics.DuplicateInstances is > 0 and var duplicates)
        {
            throw new InvalidOperationException($"the warm-up made {duplicates} duplicate instances");
        }

        cloud.Simulator.RestartStatistics();
        return rounds;
    }

    /// <summary>Waits until the runtime compiles nothing for a while: its queue of methods to optimize is done.</summary>
    private static async Task CompilationSettledAsync(CancellationToken cancellationToken)
    {
        var quiet = TimeSpan.FromMilliseconds(500);
        var waited = Stopwatch.StartNew();
        var last = JitInfo.GetCompiledMethodCount();
        while (waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(quiet, cancellationToken);
            var now = JitInfo.GetCompiledMethodCount();
            if (now == last)
            {
                return;
            }

            last = now;
        }
    }

    private async Task WaitForAsync(IVirtualNodeGrain node, Func<VirtualNodeSummary, bool> done, string what, Stopwatch since, CancellationToken cancellationToken)
    {
        VirtualNodeSummary summary;
        while (!done(summary = await node.GetSummary()))
        {
            if (since.Elapsed >= settings.EffectiveTimeout)
            {
                throw new TimeoutException($"the {settings.WarmupPods} warm-up pods did not get {what} within {settings.EffectiveTimeout.TotalSeconds:0} s: {Describe(summary)}");
            }

            await Task.Delay(ProgressInterval, cancellationToken);
        }
    }

    private async Task SubmitAsync(IVirtualNodeGrain node, string runId, BurstDashboard? dashboard, CancellationToken cancellationToken)
    {
        // A few batches in flight keep every silo busy without queueing the whole burst at once.
        using var inFlight = new SemaphoreSlim(4);
        var batches = new List<Task>();
        for (var start = 0; start < settings.Pods; start += settings.BatchSize)
        {
            await inFlight.WaitAsync(cancellationToken);
            var first = start;
            var count = Math.Min(settings.BatchSize, settings.Pods - start);
            batches.Add(Task.Run(async () =>
            {
                try
                {
                    var pods = Enumerable.Range(first, count).Select(i => BurstPods.Create(i, runId)).ToList();
                    await SubmitWithRetryAsync(node, pods, cancellationToken);
                    dashboard?.Submitted(pods[^1]);
                }
                finally
                {
                    inFlight.Release();
                }
            }, cancellationToken));
        }

        await Task.WhenAll(batches);
    }

    /// <summary>Submitting is idempotent, so a batch that failed (its silo died mid-call) is simply sent again.</summary>
    public static async Task SubmitWithRetryAsync(IVirtualNodeGrain node, IReadOnlyList<PodManifest> pods, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await node.SubmitPods(pods);
                return;
            }
            catch (Exception) when (attempt < 30 && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken);
            }
        }
    }

    private static int Count(VirtualNodeSummary summary, PodStage stage) => summary.PodsByStage.GetValueOrDefault(stage);

    private static int Settled(VirtualNodeSummary summary) =>
        Count(summary, PodStage.Running) + Count(summary, PodStage.Succeeded) + Count(summary, PodStage.Failed);

    private static string Describe(VirtualNodeSummary summary) =>
        string.Join("  ", summary.PodsByStage.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"));

    private BurstReport Report(VirtualNodeSummary summary, SimulatorStatistics cloud, LifecycleMetrics metrics,
        TimeSpan wall, long peakWorkingSet, double managedPerPod, int kills, List<StepReport> steps)
    {
        var running = Count(summary, PodStage.Running);
        var succeeded = Count(summary, PodStage.Succeeded);
        var failed = Count(summary, PodStage.Failed);
        return BurstReport.Of(settings, cloud, metrics.Retries, summary, peakWorkingSet, managedPerPod, kills, steps) with
        {
            Running = running,
            Succeeded = succeeded,
            Failed = failed,
            Lost = settings.Pods - running - succeeded - failed,
            WallSeconds = Math.Round(wall.TotalSeconds, 3),
            PodsPerSecond = Math.Round((running + succeeded + failed) / wall.TotalSeconds, 1),
            StartupLatencyMs = metrics.StartupLatency(),
        };
    }
}
