using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using VNodeMesh.Silo.Hosting;

// A silo on the local profile: localhost clustering, process-memory state, the simulator. With
// --kubeconfig (or inside a pod with a service account) its virtual nodes are registered in
// Kubernetes and run the pods bound to them. Every setting can be overridden by environment
// variables (VNODEMESH__NODES__ITEMS__0__NAME=...).
var builder = Host.CreateApplicationBuilder(args);
builder.Configuration.AddCommandLine(args, new Dictionary<string, string> { ["--kubeconfig"] = "VNodeMesh:Kubernetes:Kubeconfig" });
builder.UseOrleans(silo => silo
    .UseLocalProfile(builder.Configuration)
    .AddVNodeMesh(builder.Configuration)
    .UseKubernetes(builder.Configuration));

await builder.Build().RunAsync();
