using Microsoft.Extensions.Hosting;
using VNodeMesh.Silo.Hosting;

// A silo on the local profile: localhost clustering, process-memory state, the simulator.
// Every setting can be overridden by environment variables (VNODEMESH__NODES__NAMES__0=...).
var builder = Host.CreateApplicationBuilder(args);
builder.UseOrleans(silo => silo
    .UseLocalProfile(builder.Configuration)
    .AddVNodeMesh(builder.Configuration));

await builder.Build().RunAsync();
