using System.Globalization;
using k8s;
using k8s.Models;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.LoadTest.Cluster;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Cluster;

/// <summary>
/// Silo processes on the cluster profile for one test: a Redis of their own, one ECI emulator over
/// a simulator in the test process (so the test counts instances and can change the cloud's faults
/// while the silos run), a virtual node of their own on the real API server and a namespace for the
/// test's pods. Disposing kills the silos and Redis and removes the node, its Lease and the namespace.
/// </summary>
internal sealed class SiloProcessKit : IAsyncDisposable
{
    private SiloProcessKit(KubernetesTarget target, string node, string ns, RedisServer redis, SharedCloud cloud, SiloProcessCluster silos, SiloClusterClient client)
    {
        (Target, Node, Namespace, Redis, Cloud, Silos, Client) = (target, node, ns, redis, cloud, silos, client);
    }

    public KubernetesTarget Target { get; }

    public IKubernetes Api => Target.Client;

    public string Node { get; }

    public string Namespace { get; }

    public RedisServer Redis { get; }

    public SharedCloud Cloud { get; }

    public SiloProcessCluster Silos { get; }

    public SiloClusterClient Client { get; }

    public IVirtualNodeGrain NodeGrain => Client.Grains.GetGrain<IVirtualNodeGrain>(Node);

    /// <param name="quota">The silos' create/delete budget; unlimited by default.</param>
    /// <param name="settings">Settings of every silo on top of the kit's.</param>
    public static async Task<SiloProcessKit> StartAsync(int silos, SimulatorOptions cloud, ProviderQuotaOptions? quota = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var node = KubeApi.Unique("vn-procs");
        var target = await KubernetesTarget.ConnectAsync(KubeApi.KubeconfigPath, CancellationToken.None);
        var owned = new Stack<IAsyncDisposable>();
        try
        {
            var redis = await RedisServer.StartAsync();
            owned.Push(redis);
            var shared = await SharedCloud.StartAsync(cloud);
            owned.Push(shared);
            var siloSettings = new Dictionary<string, string?>
            {
                ["VNodeMesh:Nodes:Items:0:Name"] = node,
                ["VNodeMesh:Kubernetes:WriteQps"] = "5000",
                ["VNodeMesh:Kubernetes:WriteBurst"] = "5000",
            };
            foreach (var (key, value) in shared.SiloSettings(quota ?? new ProviderQuotaOptions { Unlimited = true }))
            {
                siloSettings[key] = value;
            }

            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                siloSettings[key] = value;
            }

            var cluster = await SiloProcessCluster.StartAsync(new SiloClusterOptions
            {
                Profile = SiloProfile.Cluster,
                Redis = redis.ConfigurationString,
                ClusterId = node,
                ServiceId = node,
                RunDirectory = Path.Combine(Path.GetTempPath(), $"vnodemesh-test-{node}"),
                Settings = siloSettings,
                Arguments = ["--kubeconfig", KubeApi.KubeconfigPath],
            }, silos);
            owned.Push(cluster);
            var client = await cluster.ClientAsync();
            await target.WaitForReadyNodeAsync(node, schedulable: false, TimeSpan.FromSeconds(60), CancellationToken.None);
            await target.CreateNamespaceAsync(node, node, CancellationToken.None);
            return new SiloProcessKit(target, node, node, redis, shared, cluster, client);
        }
        catch
        {
            while (owned.TryPop(out var resource))
            {
                await resource.DisposeAsync();
            }

            await target.CleanUpAsync([node], [node], 8, CancellationToken.None);
            target.Dispose();
            throw;
        }
    }

    /// <summary>Creates pods in the kit's namespace, bound to its node, 32 at a time.</summary>
    public async Task<ApiPodWriter> CreatePodsAsync(int count, Func<int, V1Pod> pod)
    {
        var writer = new ApiPodWriter(Api, 32);
        await writer.CreateAsync(Namespace, count, pod, null, CancellationToken.None);
        Assert.True(writer.Created == count, $"only {writer.Created} of {count} pods were created: {string.Join("; ", writer.Errors)}");
        return writer;
    }

    /// <summary>A pod bound to the kit's node, with these annotations.</summary>
    public V1Pod Pod(string name, IDictionary<string, string>? annotations = null)
    {
        var pod = KubeApi.Pod(Namespace, name, Node, annotations);
        pod.Spec.Containers[0].Resources = new V1ResourceRequirements
        {
            Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("10m"), ["memory"] = new("16Mi") },
        };
        return pod;
    }

    /// <summary>
    /// Polls until <paramref name="done"/>; a call that fails (a grain call meeting the dead silo) counts as not yet.
    /// Fails with <paramref name="state"/>, the last error and where the silos' output is.
    /// </summary>
    public async Task WaitUntilAsync(Func<Task<bool>> done, TimeSpan timeout, Func<string> state)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await done())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                last = ex;
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                Assert.Fail($"{state()} after {timeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s"
                    + (last is null ? "" : $" (last error: {last.GetType().Name}: {last.Message})") + $". {Diagnostics()}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Where to look when a test fails: the silos' output files and their last lines.</summary>
    public string Diagnostics() =>
        $"Silo output in {Silos.Options.RunDirectory}; "
        + string.Join(" | ", Silos.Silos.Select(s => $"{s.Name} ({(s.IsRunning ? "running" : "ended")}): {s.Tail().Split(Environment.NewLine).LastOrDefault()}"));

    public async ValueTask DisposeAsync()
    {
        await Silos.DisposeAsync();
        await Cloud.DisposeAsync();
        await Redis.DisposeAsync();
        await Target.CleanUpAsync([Namespace], [Node], 32, CancellationToken.None);
        Target.Dispose();
    }
}
