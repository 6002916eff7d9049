using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using HdrHistogram;
using k8s;
using k8s.Models;
using Spectre.Console;
using VNodeMesh.Silo.Kubernetes;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// The burst through a real API server (<c>burst --kubernetes</c>). The silos run with the Kubernetes
/// bridge and serve one virtual node of this run; the tool creates the pods in a fresh namespace
/// (bound to that node, or left to kube-scheduler) and times each one from its create request to the
/// event of its own watch that shows it Running. VNodeMesh's API requests are counted from its
/// <c>vnodemesh.kubernetes.requests</c> instrument. Then, with everything still up, a plain client
/// measures the physical limit the same way (the baseline), and everything is removed.
/// </summary>
public sealed class KubernetesBurstScenario(BurstSettings settings, IAnsiConsole console)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan NodeReadyTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The writes of a run are settled when none was counted for this long after the last pod ran...</summary>
    private static readonly TimeSpan WritesQuiet = TimeSpan.FromSeconds(2);

    /// <summary>...or at the latest this long after it.</summary>
    private static readonly TimeSpan WritesSettleLimit = TimeSpan.FromSeconds(30);

    /// <summary>The windows before and after a kill over which the create rate is measured.</summary>
    private static readonly TimeSpan CreateRateWindow = TimeSpan.FromSeconds(30);

    // Events still waiting for their budget when the writes were counted.
    private int? _eventWritesPending;

    /// <summary>Names of the objects of one run, unique per run.</summary>
    private sealed record RunNames(string RunId)
    {
        public string Node => $"burst-vn-{RunId}";
        public string Namespace => $"burst-{RunId}";
        public string BaselineNode => $"burst-baseline-{RunId}";
        public string BaselineNamespace => $"burst-baseline-{RunId}";
    }

    /// <summary>How one phase (VNodeMesh's or the baseline's) went, as the tool's watch saw it.</summary>
    private sealed record PhaseResult(
        int Pods, int Created, int Running, IReadOnlyDictionary<string, int> EndedWithoutRunning, int Lost,
        double WallSeconds, double PodsPerSecond, LatencySummary Latency, double CreateSeconds, IReadOnlyList<string> Errors, CpuUsage Cpu);

    public async Task<BurstReport> RunAsync(CancellationToken cancellationToken = default)
    {
        using var target = await KubernetesTarget.ConnectAsync(settings.Kubeconfig, cancellationToken);
        var names = new RunNames(Guid.NewGuid().ToString("N")[..8]);
        console.MarkupLine($"[grey]API server {Markup.Escape(target.Host)}; run {names.RunId}: node {names.Node}, namespace {names.Namespace}[/]");

        await using var telemetry = await BurstTelemetry.StartAsync(settings);
        var steps = new List<StepReport>();
        var namespaces = new List<string>();
        var nodes = new List<string> { names.Node };
        IBurstSilos? silos = null;
        try
        {
            var started = Stopwatch.StartNew();
            var siloSettings = telemetry?.SiloSettings(SiloSettings(names)) ?? SiloSettings(names);
            silos = settings.SiloProcesses
                ? await ProcessSilos.StartAsync(settings, names.RunId, names.Node, target.Kubeconfig, siloSettings, telemetry, console, cancellationToken)
                : await InProcessSilos.StartAsync(settings, names.Node, target.Kubeconfig, siloSettings, telemetry, console);
            await silos.Node.GetSummary();
            steps.Add(new("start-silos", started.Elapsed.TotalSeconds));

            started.Restart();
            await target.WaitForReadyNodeAsync(names.Node, schedulable: settings.UseScheduler, NodeReadyTimeout, cancellationToken);
            await target.CreateNamespaceAsync(names.Namespace, names.RunId, cancellationToken);
            namespaces.Add(names.Namespace);
            steps.Add(new("node-ready", started.Elapsed.TotalSeconds));

            await using var health = NodeHealthWatch.Start(target.Client, names.Node, settings.LeaseRenewInterval, settings.LeaseTolerance);
            var baselineBytes = BurstReport.ManagedBytes();
            await silos.RefreshCountsAsync(cancellationToken);
            var before = silos.ApiRequests();
            var phase = await RunVNodeMeshPhaseAsync(target, names, silos, health, steps, cancellationToken);
            await silos.RefreshCountsAsync(cancellationToken);
            var managedPerPod = (BurstReport.ManagedBytes() - baselineBytes) / (double)settings.Pods;
            var window = silos.ApiRequests() is { } after && before is not null ? Subtract(after, before) : null;
            var summary = await silos.Node.GetSummary();
            var cloudStatistics = silos.Cloud.Statistics;
            var nodeHealth = health.Snapshot();

            BaselineReport? baseline = null;
            if (settings.Baseline)
            {
                started.Restart();
                nodes.Add(names.BaselineNode);
                namespaces.Add(names.BaselineNamespace);
                baseline = await RunBaselineAsync(target, names, cancellationToken);
                steps.Add(new("baseline", started.Elapsed.TotalSeconds));
            }

            var report = Report(phase.Result, window, summary, cloudStatistics, silos, phase.PeakWorkingSet, managedPerPod, baseline, steps) with
            {
                LeaseRenewalsMissed = nodeHealth.LateRenewals,
                LeaseMaxGapSeconds = nodeHealth.MaxGapSeconds,
                LeaseExpired = nodeHealth.LeaseExpired,
                NodeNotReadyObserved = nodeHealth.NotReadyObserved,
                NodeNotReady = nodeHealth.NotReady,
                CreateRateAroundKill = silos.Kills.Count > 0 ? CreateRate(phase.Creates, silos.Kills[0]) : null,
                RollingUpgrade = silos.Upgrade?.Report(phase.Creates, BurstSpentAt(phase.Creates)),
                Telemetry = telemetry?.Report() ?? new TelemetryReport(),
            };
            return silos.Complete(report);
        }
        finally
        {
            var cleaning = Stopwatch.StartNew();
            if (silos is not null)
            {
                await silos.DisposeAsync();
            }

            var problems = await target.CleanUpAsync(namespaces, nodes, settings.CreateConcurrency, CancellationToken.None);
            foreach (var problem in problems)
            {
                console.MarkupLine($"[yellow]clean-up: {Markup.Escape(problem)}[/]");
            }

            steps.Add(new("clean-up", cleaning.Elapsed.TotalSeconds));
        }
    }

    /// <summary>The silos' configuration: the run's virtual node, the bridge on, the write budget out of the way.</summary>
    private Dictionary<string, string?> SiloSettings(RunNames names) => new()
    {
        ["VNodeMesh:Nodes:Items:0:Name"] = names.Node,
        // With --scheduler the pods select this run's node by this label, never another virtual node of the cluster.
        [$"VNodeMesh:Nodes:Items:0:Labels:{BurstPods.RunLabel}"] = names.RunId,
        ["VNodeMesh:Pods:WatchdogPeriod"] = "00:00:10",
        [$"{KubernetesOptions.Section}:{nameof(KubernetesOptions.LeaseRenewInterval)}"] = settings.LeaseRenewInterval.ToString("c", CultureInfo.InvariantCulture),
        [$"{KubernetesOptions.Section}:{nameof(KubernetesOptions.WriteQps)}"] = settings.WriteQps.ToString(CultureInfo.InvariantCulture),
        [$"{KubernetesOptions.Section}:{nameof(KubernetesOptions.WriteBurst)}"] = settings.WriteBurst.ToString(CultureInfo.InvariantCulture),
        [$"{KubernetesOptions.Section}:{nameof(KubernetesOptions.WriteConcurrency)}"] = settings.WriteConcurrency.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>What the VNodeMesh phase measured: the pods, the peak memory, and the cloud's instance count over time (seconds into the phase).</summary>
    private sealed record PhaseOutcome(PhaseResult Result, long PeakWorkingSet, List<(double Seconds, long Created)> Creates);

    private async Task<PhaseOutcome> RunVNodeMeshPhaseAsync(
        KubernetesTarget target, RunNames names, IBurstSilos silos, NodeHealthWatch health, List<StepReport> steps, CancellationToken cancellationToken)
    {
        await using var watch = await PodPhaseWatch.StartAsync(target.Client, names.Namespace, cancellationToken);
        var writer = new ApiPodWriter(target.Client, settings.CreateConcurrency);
        var bindTo = settings.UseScheduler ? null : names.Node;
        using var creating = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var cpu = CpuUsage.Start();
        var clock = Stopwatch.StartNew();
        silos.PhaseStarted();
        var create = writer.CreateAsync(names.Namespace, settings.Pods, i => BurstPods.ForApi(i, names.RunId, names.Namespace, bindTo), null, creating.Token);

        var peakWorkingSet = 0L;
        var creates = new List<(double Seconds, long Created)>();
        var lastPrint = TimeSpan.Zero;
        var createdAt = TimeSpan.Zero;
        while (true)
        {
            await Task.Delay(ProgressInterval, cancellationToken);
            creates.Add((clock.Elapsed.TotalSeconds, silos.Cloud.Statistics.InstancesCreated));
            if (create.IsCompleted && createdAt == TimeSpan.Zero)
            {
                await create;
                createdAt = clock.Elapsed;
            }

            var settled = watch.Settled;
            await silos.OnProgressAsync(new BurstProgress(clock.Elapsed, watch.Running, settled, watch, health), cancellationToken);

            if (clock.Elapsed - lastPrint >= TimeSpan.FromSeconds(1))
            {
                lastPrint = clock.Elapsed;
                peakWorkingSet = Math.Max(peakWorkingSet, silos.WorkingSet());
                var stages = await Stages(silos.Node);
                console.MarkupLine($"[grey]{clock.Elapsed.TotalSeconds,6:0.0}s[/] created={writer.Created} running={watch.Running} (watch)  {silos.Progress()}  grains: {stages}  [grey]{Runtime()}[/]");
            }

            // Pods whose create failed for good can never run: stop waiting for them once every create is done.
            if ((create.IsCompleted && settled >= writer.Created && !silos.FaultUnderWay) || clock.Elapsed >= settings.EffectiveTimeout)
            {
                break;
            }
        }

        if (!create.IsCompleted)
        {
            // Timed out while still creating: what was not created is lost.
            await creating.CancelAsync();
            await Quietly(create);
            createdAt = clock.Elapsed;
        }

        var cpuUsage = cpu.Stop();
        steps.Add(new("create", createdAt.TotalSeconds));
        steps.Add(new("await-running", (clock.Elapsed - createdAt).TotalSeconds));

        // Writes that follow Running (Events, a late status) still belong to the run: wait until they stop.
        var settleClock = Stopwatch.StartNew();
        await SettleWritesAsync(silos, cancellationToken);
        steps.Add(new("settle-writes", settleClock.Elapsed.TotalSeconds));
        await silos.RefreshCountsAsync(cancellationToken);
        _eventWritesPending = silos.EventWritesPending;
        return new PhaseOutcome(Measure(writer, watch, cpuUsage), Math.Max(peakWorkingSet, silos.WorkingSet()), creates);
    }

    /// <summary>The node grain's pods by stage, or why they could not be read (a silo failing over).</summary>
    private static async Task<string> Stages(IVirtualNodeGrain node)
    {
        try
        {
            var summary = await node.GetSummary().WaitAsync(TimeSpan.FromSeconds(2));
            return string.Join("  ", summary.PodsByStage.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"));
        }
        catch (Exception ex)
        {
            return $"(unavailable: {ex.GetType().Name})";
        }
    }

    /// <summary>
    /// Creates per second in the window before the kill (after the quota's burst is spent) and in the
    /// window after it (until every instance was created), both at most <see cref="CreateRateWindow"/> long.
    /// </summary>
    private CreateRateReport? CreateRate(List<(double Seconds, long Created)> samples, double killedAt)
    {
        if (samples.Count == 0)
        {
            return null;
        }

        long CreatedAt(double seconds) => samples.LastOrDefault(s => s.Seconds <= seconds, samples[0]).Created;
        var beforeStart = Math.Max(killedAt - CreateRateWindow.TotalSeconds, BurstSpentAt(samples));
        var total = samples[^1].Created;
        var allCreated = samples.FirstOrDefault(s => s.Created >= total).Seconds;
        var afterEnd = Math.Min(killedAt + CreateRateWindow.TotalSeconds, allCreated);
        double Rate(double from, double to) => to > from ? (CreatedAt(to) - CreatedAt(from)) / (to - from) : 0;
        var before = Rate(beforeStart, killedAt);
        var after = Rate(killedAt, afterEnd);
        double? quota = settings.Quota.Unlimited ? null : settings.Quota.PerSecond;
        return new CreateRateReport(
            Math.Round(Math.Max(0, killedAt - beforeStart), 1), Math.Round(before, 2), Math.Round(Math.Max(0, afterEnd - killedAt), 1), Math.Round(after, 2),
            quota, quota is { } q && killedAt > beforeStart ? Math.Round(before / q, 3) : null, quota is { } p && afterEnd > killedAt ? Math.Round(after / p, 3) : null);
    }

    /// <summary>Seconds into the phase when the quota's burst was spent (at the first create when unlimited): creates after it run at the refill's rate.</summary>
    private double BurstSpentAt(List<(double Seconds, long Created)> samples) =>
        samples.FirstOrDefault(s => s.Created > 0).Seconds + (settings.Quota.Unlimited ? 0 : settings.Quota.Burst / settings.Quota.PerSecond);

    /// <summary>The process's runtime health in a few words: GC pauses, thread pool threads and queue.</summary>
    private static string Runtime() =>
        $"gc pause={GC.GetTotalPauseDuration().TotalSeconds:0.00}s gcs={GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} "
        + $"jit={System.Runtime.JitInfo.GetCompiledMethodCount()} threads={ThreadPool.ThreadCount} queued={ThreadPool.PendingWorkItemCount}";

    private static async Task SettleWritesAsync(IBurstSilos silos, CancellationToken cancellationToken)
    {
        if (silos.ApiRequests() is null)
        {
            return; // not counted: nothing to wait for
        }

        var started = Stopwatch.StartNew();
        var last = PodWrites(silos);
        var quietSince = Stopwatch.StartNew();
        while (started.Elapsed < WritesSettleLimit && quietSince.Elapsed < WritesQuiet)
        {
            await Task.Delay(250, cancellationToken);
            var now = PodWrites(silos);
            if (now != last)
            {
                last = now;
                quietSince.Restart();
            }
        }
    }

    private static long PodWrites(IBurstSilos silos) => silos.ApiRequests()?.Where(p => p.Key.IsPodWrite).Sum(p => p.Value) ?? 0;

    /// <summary>
    /// The physical limit: a plain client creates the same number of pods bound to a node nobody
    /// serves, as many in flight, and patches each one's status to Running once as soon as it is
    /// created (the patches as many in flight again); timed by its own watch, as the VNodeMesh phase.
    /// </summary>
    private async Task<BaselineReport> RunBaselineAsync(KubernetesTarget target, RunNames names, CancellationToken cancellationToken)
    {
        await target.Client.CoreV1.CreateNodeAsync(new V1Node
        {
            Metadata = new V1ObjectMeta { Name = names.BaselineNode, Labels = new Dictionary<string, string> { [BurstPods.RunLabel] = names.RunId } },
            // Nothing else is ever scheduled there.
            Spec = new V1NodeSpec { Taints = [new V1Taint { Key = BurstPods.RunLabel, Value = "baseline", Effect = "NoSchedule" }] },
        }, cancellationToken: cancellationToken);
        await target.CreateNamespaceAsync(names.BaselineNamespace, names.RunId, cancellationToken);
        await using var watch = await PodPhaseWatch.StartAsync(target.Client, names.BaselineNamespace, cancellationToken);

        console.MarkupLine($"[grey]baseline: {settings.Pods} pods bound to {names.BaselineNode} in {names.BaselineNamespace}, created and patched Running by a plain client[/]");
        var writer = new ApiPodWriter(target.Client, settings.CreateConcurrency);
        var created = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
        using var writing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var cpu = CpuUsage.Start();
        var clock = Stopwatch.StartNew();
        var create = writer.CreateAsync(names.BaselineNamespace, settings.Pods,
            i => BurstPods.ForApi(i, names.RunId, names.BaselineNamespace, names.BaselineNode), created.Writer, writing.Token);
        var patch = writer.PatchRunningAsync(names.BaselineNamespace, created.Reader, writing.Token);
        var lastPrint = TimeSpan.Zero;
        while (true)
        {
            await Task.Delay(ProgressInterval, cancellationToken);
            if (clock.Elapsed - lastPrint >= TimeSpan.FromSeconds(1))
            {
                lastPrint = clock.Elapsed;
                console.MarkupLine($"[grey]{clock.Elapsed.TotalSeconds,6:0.0}s[/] baseline created={writer.Created} running={watch.Running} (watch)");
            }

            if ((create.IsCompleted && patch.IsCompleted && watch.Settled >= writer.Created) || clock.Elapsed >= settings.EffectiveTimeout)
            {
                break;
            }
        }

        var cpuUsage = cpu.Stop();
        await writing.CancelAsync();
        await Quietly(create);
        await Quietly(patch);
        var result = Measure(writer, watch, cpuUsage);
        foreach (var error in result.Errors)
        {
            console.MarkupLine($"[yellow]baseline: {Markup.Escape(error)}[/]");
        }

        return new BaselineReport
        {
            Order = "after",
            Pods = result.Pods,
            Running = result.Running,
            Lost = result.Lost,
            WallSeconds = result.WallSeconds,
            PodsPerSecond = result.PodsPerSecond,
            StartupLatencyMs = result.Latency,
            RequestsByVerb = writer.Requests,
            Cpu = result.Cpu,
        };
    }

    /// <summary>Latency per pod from its create request to the watch event showing it Running; pods/s over first create → last Running.</summary>
    private PhaseResult Measure(ApiPodWriter writer, PodPhaseWatch watch, CpuUsage cpu)
    {
        console.MarkupLine($"[grey]the tool's watch: {watch.Events} events, {watch.Relists} relists after 410 Gone, {watch.Failures} broken watches resumed[/]");
        var histogram = new LongHistogram(1, 24L * 3600 * 1000, 3);
        foreach (var (name, createdAt) in writer.CreatedAt)
        {
            if (watch.TryGetRunningAt(name, out var runningAt))
            {
                histogram.RecordValue(Math.Max(1, Milliseconds(runningAt - createdAt)));
            }
        }

        var running = watch.Running;
        var ended = watch.EndedWithoutRunning;
        var wall = running > 0 && writer.FirstCreateAt != 0 ? (watch.LastRunningAt - writer.FirstCreateAt) / (double)Stopwatch.Frequency : 0;
        var createSeconds = writer.FirstCreateAt != 0 && writer.LastCreatedAt != 0 ? (writer.LastCreatedAt - writer.FirstCreateAt) / (double)Stopwatch.Frequency : 0;
        var latency = histogram.TotalCount == 0
            ? new LatencySummary(0, 0, 0, 0)
            : new LatencySummary(histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(90), histogram.GetValueAtPercentile(99), histogram.GetMaxValue());
        return new PhaseResult(
            settings.Pods, writer.Created, running, ended, settings.Pods - running - ended.Values.Sum(),
            Math.Round(wall, 3), wall > 0 ? Math.Round(running / wall, 1) : 0, latency, Math.Round(createSeconds, 3), writer.Errors, cpu);
    }

    /// <summary>Awaits writes that were cancelled at the deadline; what they did not do shows as lost pods.</summary>
    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static long Milliseconds(long ticks) => (long)Math.Round(ticks * 1000.0 / Stopwatch.Frequency);

    private static Dictionary<ApiRequestKind, long> Subtract(IReadOnlyDictionary<ApiRequestKind, long> after, IReadOnlyDictionary<ApiRequestKind, long> before) =>
        after.Select(p => (p.Key, Count: p.Value - before.GetValueOrDefault(p.Key))).Where(p => p.Count > 0).ToDictionary(p => p.Key, p => p.Count);

    /// <param name="requests">VNodeMesh's API requests in the phase; null when they were not counted (silo processes without a proxy).</param>
    private BurstReport Report(PhaseResult result, Dictionary<ApiRequestKind, long>? requests, VirtualNodeSummary summary, SimulatorStatistics cloud,
        IBurstSilos silos, long peakWorkingSet, double managedPerPod, BaselineReport? baseline, List<StepReport> steps)
    {
        foreach (var error in result.Errors)
        {
            console.MarkupLine($"[yellow]{Markup.Escape(error)}[/]");
        }

        var writes = requests?.Where(p => p.Key.IsWrite).Sum(p => p.Value);
        var podWrites = requests?.Where(p => p.Key.IsPodWrite).Sum(p => p.Value);
        static Dictionary<string, long>? By(Dictionary<ApiRequestKind, long>? requests, Func<ApiRequestKind, string> key) =>
            requests?.GroupBy(p => key(p.Key)).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(p => p.Value));
        return BurstReport.Of(settings, cloud, silos.Retries, summary, peakWorkingSet, managedPerPod, silos.Kills.Count, steps) with
        {
            Scenario = "burst-kubernetes",
            Running = result.Running,
            Succeeded = result.EndedWithoutRunning.GetValueOrDefault("Succeeded"),
            Failed = result.EndedWithoutRunning.GetValueOrDefault("Failed"),
            Lost = result.Lost,
            WallSeconds = result.WallSeconds,
            PodsPerSecond = result.PodsPerSecond,
            StartupLatencyMs = result.Latency,
            Kubernetes = true,
            Scheduler = settings.UseScheduler,
            CreateConcurrency = settings.CreateConcurrency,
            WriteBudget = new(settings.WriteQps, settings.WriteBurst, settings.WriteConcurrency),
            ApiRequestsByVerb = By(requests, k => k.Verb),
            ApiRequestsByVerbAndResource = By(requests, k => $"{k.Verb} {k.Resource}"),
            ApiRequestsByCode = By(requests, k => k.Code),
            WritesPerPod = writes is { } w ? Math.Round(w / (double)settings.Pods, 3) : null,
            WritesToRunningPerPod = podWrites is { } p ? Math.Round(p / (double)settings.Pods, 3) : null,
            EventWritesPending = _eventWritesPending,
            BaselinePodsPerSecond = baseline?.PodsPerSecond,
            BaselineRatio = baseline is { PodsPerSecond: > 0 } b ? Math.Round(result.PodsPerSecond / b.PodsPerSecond, 3) : null,
            Baseline = baseline,
            Cpu = result.Cpu,
        };
    }
}
