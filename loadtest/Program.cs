using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using VNodeMesh.LoadTest.Burst;

var pods = new Option<int>("--pods") { Description = "Pods to create.", DefaultValueFactory = _ => 1000 };
var silos = new Option<int>("--silos") { Description = "Silos started in this process (local profile).", DefaultValueFactory = _ => 1 };
var report = new Option<string?>("--report") { Description = "Write the report as JSON to this file." };
var quota = new Option<string>("--quota") { Description = "The cloud's create/delete budget: <burst>/<per-second> or 'unlimited'.", DefaultValueFactory = _ => "100/20" };
var latency = new Option<string>("--latency") { Description = "Instance status latencies: zero or realistic.", DefaultValueFactory = _ => "realistic" };
var faults = new Option<double>("--faults") { Description = "Rate of transient provider errors (0 to 1).", DefaultValueFactory = _ => 0 };
var throttleFaults = new Option<double>("--throttle-faults") { Description = "Rate of extra throttled creates and deletes (0 to 1).", DefaultValueFactory = _ => 0 };
var seed = new Option<int>("--seed") { Description = "Seed of the simulated cloud.", DefaultValueFactory = _ => 1 };
var timeout = new Option<double?>("--timeout") { Description = "Seconds before unsettled pods count as lost (default: from the quota)." };
var killSiloAt = new Option<double?>("--kill-silo-at") { Description = "Kill silo 1 when this fraction of the pods is settled (needs --silos 2 or more)." };

var burst = new Command("burst", "Create a burst of pods on the embedded default and report how it went.")
{
    pods, silos, report, quota, latency, faults, throttleFaults, seed, timeout, killSiloAt,
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
            KillSiloAt = parse.GetValue(killSiloAt) is { } at ? Rate(at, "--kill-silo-at") : null,
        };
    }
    catch (FormatException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }

    var result = await new BurstScenario(settings, AnsiConsole.Console).RunAsync(cancellationToken);
    var json = result.ToJson();
    Console.WriteLine(json);
    if (settings.ReportPath is { } path)
    {
        await File.WriteAllTextAsync(path, json, cancellationToken);
    }

    return result.Lost == 0 && result.DuplicateInstances == 0 ? 0 : 1;
});

var root = new RootCommand("VNodeMesh load tests: burst-scale scenarios with a report.") { burst };
return await root.Parse(args).InvokeAsync();

static int Positive(int value, string name) =>
    value > 0 ? value : throw new FormatException($"{name} must be a positive number, not {value}");

static double Rate(double value, string name) =>
    value is >= 0 and <= 1 ? value : throw new FormatException($"{name} must be between 0 and 1, not {value.ToString(CultureInfo.InvariantCulture)}");
