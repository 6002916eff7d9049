using VNodeMesh.Silo.Web;

// A silo: the local profile by default (localhost clustering, process-memory state, the simulator).
// With --kubeconfig (or inside a pod with a service account) its virtual nodes are registered in
// Kubernetes and run the pods bound to them.
var app = SiloHost.CreateBuilder(args).Build();
app.MapSiloEndpoints();
await app.RunAsync();
