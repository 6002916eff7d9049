using Microsoft.Extensions.Configuration;
using VNodeMesh.Emulator;
using VNodeMesh.Silo.Providers.Simulator;

// The ECI OpenAPI on 127.0.0.1, backed by the simulated cloud: try the ECI provider without an
// account. Settings: --Emulator:Port 18080 --Emulator:UnavailableRate 0.2 --Simulator:QuotaUnlimited true ...
var configuration = new ConfigurationBuilder().AddEnvironmentVariables("VNODEMESH_").AddCommandLine(args).Build();
var options = configuration.GetSection(EciEmulatorOptions.Section).Get<EciEmulatorOptions>() ?? new();
var simulator = configuration.GetSection(SimulatorOptions.SectionName).Get<SimulatorOptions>() ?? new();
simulator.Region = options.Region;

await using var emulator = await EciEmulator.StartAsync(options, new SimulatedCloud(simulator));
Console.WriteLine($"ECI emulator for {options.Region} at {emulator.Endpoint} (AccessKeyId {options.AccessKeyId}); Ctrl+C stops it.");
var stopped = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopped.TrySetResult(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stopped.TrySetResult();
await stopped.Task;
