using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using VNodeMesh.LoadTest.Burst;

var pods = new Option<int>("--pods") { Description = "Pods to create.", DefaultValueFactory = _ => 1000 };
var silos = new Option<int>("--silos") { Description = "Silos: in this process (--profile local), or processes of their own (--profile cluster).", DefaultValueFactory = _ => 1 };
var report = new Option<string?>("--report") { Description = "Write the report as JSON to this file." };
var quota = new Option<string>("--quota") { Description = "The cloud's create/delete budget: <burst>/<per-second> or 'unlimited'.", DefaultValueFactory = _ => "100/20" };
var latency = new Option<string>("--latency") { Description = "Instance status latencies: zero or realistic.", DefaultValueFactory = _ => "realistic" };
var faults = new Option<double>("--faults") { Description = "Rate of transient provider errors (0 to 1).", DefaultValueFactory = _ => 0 };
var throttleFaults = new Option<double>("--throttle-faults") { Description = "Rate of extra throttled creates and deletes (0 to 1).", DefaultValueFactory = _ => 0 };
var seed = new Option<int>("--seed") { Description = "Seed of the simulated cloud.", DefaultValueFactory = _ => 1 };
var timeout = new Option<double?>("--timeout") { Description = "Seconds before unsettled pods count as lost (default: from the quota)." };
var killSiloAt = new Option<double?>("--kill-silo-at") { Description = "Kill a silo when this fraction (0 to 1, exclusive) of the pods is settled: silo 1 in this process, or with --profile cluster the process hosting the virtual node (SIGKILL) once that many pods run. Needs --silos 2 or more." };
var profile = new Option<string>("--profile") { Description = "local: the silos run in this process; cluster (with --kubernetes): each silo is a process of its own on the cluster profile, with Redis and one ECI emulator shared.", DefaultValueFactory = _ => "local" };
var redis = new Option<string?>("--redis") { Description = "With --profile cluster: use this Redis (host:port) instead of starting one." };
var restartRedisAt = new Option<double?>("--restart-redis-at") { Description = "With --profile cluster: kill Redis and start it again on the same port and data when this fraction (0 to 1, exclusive) of the pods runs." };
var rollingUpgradeAt = new Option<double?>("--rolling-upgrade-at") { Description = "With --profile cluster: when this fraction (0 to 1, exclusive) of the pods runs, replace every silo one at a time as the chart's rolling update does: start a new silo, wait until it is ready, then stop an old one with SIGTERM." };
var apiFaults = new Option<bool>("--api-faults") { Description = "With --kubernetes: the silos reach the API server through a proxy that breaks their watches every 30 s and, every other time, holds them until they resume into 410 Gone." };
var runDir = new Option<string?>("--run-dir") { Description = "With --profile cluster: where the silo processes' output goes (default: a new directory under the temporary directory)." };
var provider = new Option<string>("--provider") { Description = "simulator, or eci: the ECI provider over signed HTTP to the ECI emulator started on 127.0.0.1.", DefaultValueFactory = _ => "simulator" };
var kubernetes = new Option<bool>("--kubernetes") { Description = "Go through a real API server: the silos run the Kubernetes bridge, pods are created through the API, a plain-client baseline is measured too." };
var kubeconfig = new Option<string?>("--kubeconfig") { Description = "With --kubernetes: the API server's kubeconfig (default: $KUBECONFIG)." };
var scheduler = new Option<bool>("--scheduler") { Description = "With --kubernetes: leave pods unbound (node selector, toleration) for kube-scheduler to bind." };
var createConcurrency = new Option<int>("--create-concurrency") { Description = "With --kubernetes: pod creates in flight (baseline status patches too).", DefaultValueFactory = _ => 32 };
var writeQps = new Option<double>("--write-qps") { Description = "With --kubernetes: the silos' write budget per second (VNodeMesh:Kubernetes:WriteQps), high so the API server is the limit.", DefaultValueFactory = _ => 5000 };
var writeBurst = new Option<int>("--write-burst") { Description = "With --kubernetes: the silos' write burst (VNodeMesh:Kubernetes:WriteBurst).", DefaultValueFactory = _ => 5000 };
var writeConcurrency = new Option<int>("--write-concurrency") { Description = "With --kubernetes: the silos' writes in flight (VNodeMesh:Kubernetes:WriteConcurrency).", DefaultValueFactory = _ => 32 };
var telemetry = new Option<string>("--telemetry") { Description = "on: the silos run OpenTelemetry (OTLP export of spans and metrics to a local collector, a Prometheus scrape every 5 s); off: none.", DefaultValueFactory = _ => "off" };
var traceSampling = new Option<double?>("--trace-sampling") { Description = "With --telemetry on: the silos' trace sampling ratio (default: the silo's, VNodeMesh:Telemetry:Traces:SamplingRatio)." };
var traceOrleans = new Option<bool>("--trace-orleans") { Description = "With --telemetry on: trace Orleans too, with activity propagation through grain calls (VNodeMesh:Telemetry:Traces:Orleans)." };
var dashboard = new Option<string>("--dashboard") { Description = "on: the silos serve the dashboard (Orleans' own included), which the tool views every second as people watching the burst would; profiled: on, with Orleans' dashboard timing grain calls (VNodeMesh:Dashboard:ProfileGrainCalls); off: none.", DefaultValueFactory = _ => "off" };
var warmup = new Option<int?>("--warmup") { Description = "Pods per warm-up round, run and deleted before the clock starts until the runtime has compiled their paths, so that the burst meets a warm process as a long-running silo would (default: 2000 with --quota unlimited, otherwise 0: a warm-up under a budget would spend it). The embedded burst only." };
var noBaseline = new Option<bool>("--no-baseline") { Description = "With --kubernetes: skip the plain-client baseline." };

var burst = new Command("burst", "Create a burst of pods on the embedded default and report how it went.")
{
    pods, silos, report, provider, quota, latency, faults, throttleFaults, seed, timeout, killSiloAt, telemetry, traceSampling, traceOrleans, dashboard,
    kubernetes, kubeconfig, scheduler, createConcurrency, writeQps, writeBurst, writeConcurrency, noBaseline, warmup,
    profile, redis, restartRedisAt, rollingUpgradeAt, apiFaults, runDir,
};
burst.SetAction(async (parse, cancellationToken) =>
{
    BurstSettings settings;
    try
    {
        settings = new BurstSettings
        {
            Pods = Positive(parse.GetValue(pods), "--pods"),
            Silos = Positive(parse.GetValue(silos), "--silos"),
            ReportPath = parse.GetValue(report),
            Quota = BurstSettings.ParseQuota(parse.GetValue(quota)!),
            Provider = parse.GetValue(provider) is "simulator" or "eci" ? parse.GetValue(provider)! : throw new FormatException($"--provider '{parse.GetValue(provider)}' is neither 'simulator' nor 'eci'"),
            ZeroLatency = parse.GetValue(latency) switch
            {
                "zero" => true,
                "realistic" => false,
                var other => throw new FormatException($"--latency '{other}' is neither 'zero' nor 'realistic'"),
            },
            TransientFaultRate = Rate(parse.GetValue(faults), "--faults"),
            ThrottleFaultRate = Rate(parse.GetValue(throttleFaults), "--throttle-faults"),
            Seed = parse.GetValue(seed),
            Timeout = parse.GetValue(timeout) is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            KillSiloAt = parse.GetValue(killSiloAt) is { } at ? Fraction(at, "--kill-silo-at") : null,
            Telemetry = parse.GetValue(telemetry) switch
            {
                "on" => true,
                "off" => false,
                var other => throw new FormatException($"--telemetry '{other}' is neither 'on' nor 'off'"),
            },
            TraceSamplingRatio = parse.GetValue(traceSampling) is { } ratio ? Rate(ratio, "--trace-sampling") : null,
            TraceOrleans = parse.GetValue(traceOrleans),
            Dashboard = parse.GetValue(dashboard) switch
            {
                "on" or "profiled" => true,
                "off" => false,
                var other => throw new FormatException($"--dashboard '{other}' is not 'on', 'profiled' or 'off'"),
            },
            ProfileGrainCalls = parse.GetValue(dashboard) == "profiled",
            Kubernetes = parse.GetValue(kubernetes),
            Kubeconfig = parse.GetValue(kubeconfig),
            UseScheduler = parse.GetValue(scheduler),
            CreateConcurrency = Positive(parse.GetValue(createConcurrency), "--create-concurrency"),
            WriteQps = Between(parse.GetValue(writeQps), 1, 100_000, "--write-qps"),
            WriteBurst = (int)Between(parse.GetValue(writeBurst), 1, 100_000, "--write-burst"),
            WriteConcurrency = (int)Between(parse.GetValue(writeConcurrency), 1, 1024, "--write-concurrency"),
            Baseline = !parse.GetValue(noBaseline),
            Profile = parse.GetValue(profile) is "local" or "cluster" ? parse.GetValue(profile)! : throw new FormatException($"--profile '{parse.GetValue(profile)}' is neither 'local' nor 'cluster'"),
            Redis = parse.GetValue(redis) is { } address ? RedisAddress(address) : null,
            RestartRedisAt = parse.GetValue(restartRedisAt) is { } restartAt ? Fraction(restartAt, "--restart-redis-at") : null,
            RollingUpgradeAt = parse.GetValue(rollingUpgradeAt) is { } upgradeAt ? Fraction(upgradeAt, "--rolling-upgrade-at") : null,
            ApiFaults = parse.GetValue(apiFaults),
            RunDirectory = parse.GetValue(runDir),
        };
        settings = settings with { WarmupPods = parse.GetValue(warmup) is { } warm ? NotNegative(warm, "--warmup") : settings.DefaultWarmupPods };
        Option[] kubernetesOnly = [kubeconfig, scheduler, createConcurrency, writeQps, writeBurst, writeConcurrency, noBaseline];
        if (!settings.Telemetry && new Option[] { traceSampling, traceOrleans }.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } tracing)
        {
            throw new FormatException($"{tracing.Name} needs --telemetry on");
        }

        if (settings.Kubernetes && parse.GetResult(warmup) is { Implicit: false })
        {
            throw new FormatException("--warmup is for the embedded burst, not --kubernetes");
        }

        if (settings.Kubernetes && settings.Dashboard)
        {
            throw new FormatException("--dashboard on is for the embedded burst, not --kubernetes");
        }

        if (!settings.Kubernetes && kubernetesOnly.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } given)
        {
            throw new FormatException($"{given.Name} needs --kubernetes");
        }

        if (settings.SiloProcesses && !settings.Kubernetes)
        {
            throw new FormatException("--profile cluster needs --kubernetes: the silo processes serve a virtual node of a real API server");
        }

        if (settings.ApiFaults && !settings.Kubernetes)
        {
            throw new FormatException("--api-faults needs --kubernetes");
        }

        Option[] clusterOnly = [redis, restartRedisAt, rollingUpgradeAt, runDir];
        if (!settings.SiloProcesses && clusterOnly.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } needsCluster)
        {
            throw new FormatException($"{needsCluster.Name} needs --profile cluster");
        }

        if (settings.KillSiloAt is not null && settings.Silos < 2)
        {
            throw new FormatException($"--kill-silo-at needs --silos 2 or more, so that a silo survives the kill (--silos is {settings.Silos})");
        }

        if (settings.RollingUpgradeAt is not null && settings.KillSiloAt is not null)
        {
            throw new FormatException("--rolling-upgrade-at and --kill-silo-at cannot be combined: each is measured on its own");
        }

        if (settings.RestartRedisAt is not null && settings.Redis is not null)
        {
            throw new FormatException("--restart-redis-at restarts the tool's own Redis: it cannot be used with --redis");
        }
    }
    catch (FormatException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }

    BurstReport result;
    try
    {
        result = settings.Kubernetes
            ? await new KubernetesBurstScenario(settings, AnsiConsole.Console).RunAsync(cancellationToken)
            : await new BurstScenario(settings, AnsiConsole.Console).RunAsync(cancellationToken);
    }
    catch (KubernetesUnavailableException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }
    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
    {
        Console.Error.WriteLine("cancelled: the silos were stopped and what the run created was removed");
        return 130;
    }

    var json = result.ToJson();
    Console.WriteLine(json);
    if (settings.ReportPath is { } path)
    {
        await File.WriteAllTextAsync(path, json, cancellationToken);
    }

    return result.Lost == 0 && result.DuplicateInstances == 0 ? 0 : 1;
});

var root = new RootCommand("VNodeMesh load tests: burst-scale scenarios with a report.") { burst };
// Ctrl+C or SIGTERM cancels the run; it then kills its silos and removes what it created in the API server, which takes a while.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) });

static int Positive(int value, string name) =>
    value > 0 ? value : throw new FormatException($"{name} must be a positive number, not {value}");

static int NotNegative(int value, string name) =>
    value >= 0 ? value : throw new FormatException($"{name} must be 0 or more, not {value}");

static double Between(double value, double min, double max, string name) =>
    value >= min && value <= max ? value : throw new FormatException($"{name} must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}, not {value.ToString(CultureInfo.InvariantCulture)}");

static double Fraction(double value, string name) =>
    value is > 0 and < 1 ? value : throw new FormatException($"{name} must be a fraction of the pods greater than 0 and less than 1, not {value.ToString(CultureInfo.InvariantCulture)}");

static string RedisAddress(string value)
{
    var colon = value.LastIndexOf(':');
    return colon > 0 && int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
        ? value
        : throw new FormatException($"--redis '{value}' is not host:port (e.g. 127.0.0.1:6379)");
}

static double Rate(double value, string name) =>
    value is >= 0 and <= 1 ? value : throw new FormatException($"{name} must be between 0 and 1, not {value.ToString(CultureInfo.InvariantCulture)}");
