using k8s.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Silo.Hosting;
using VNodeMesh.Silo.Local;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.Tests.Infrastructure;

/// <summary>
/// An Orleans InProcessTestCluster of VNodeMesh silos sharing one simulated cloud, one create budget
/// and one local store (as real silos share the cloud and Redis), with short retry and poll periods.
/// </summary>
public sealed class VNodeMeshTestCluster : IAsyncDisposable
{
    public const string Node = "test-node";

    private VNodeMeshTestCluster(InProcessTestCluster cluster, SimulatedCloud cloud, ShiftedTimeProvider time, LocalStore store)
    {
        Cluster = cluster;
        Cloud = cloud;
        Time = time;
        Store = store;
    }

    public InProcessTestCluster Cluster { get; }
    public SimulatedCloud Cloud { get; }
    public ShiftedTimeProvider Time { get; }
    public LocalStore Store { get; }
    public IGrainFactory Grains => Cluster.Client;
    public IVirtualNodeGrain VirtualNode => Grains.GetGrain<IVirtualNodeGrain>(Node);

    /// <param name="wrapProvider">Puts something between the silos and the cloud (lost answers, say).</param>
    /// <param name="configureSilo">Anything more a test's silos need (a store that fails, a call filter).</param>
    /// <param name="providerFromSettings">The silos build their provider from <paramref name="settings"/> (the ECI provider, say) instead of sharing one over <paramref name="cloud"/>.</param>
    public static async Task<VNodeMeshTestCluster> StartAsync(
        SimulatorOptions? cloudOptions = null,
        ProviderQuotaOptions? quota = null,
        IReadOnlyDictionary<string, string?>? settings = null,
        short silos = 2,
        SimulatedCloud? cloud = null,
        bool providerFromSettings = false,
        Func<IInstanceProvider, IInstanceProvider>? wrapProvider = null,
        Action<ISiloBuilder>? configureSilo = null)
    {
        var time = new ShiftedTimeProvider();
        cloudOptions ??= SimulatorOptions.ZeroLatency();
        if (quota is null)
        {
            cloudOptions.QuotaUnlimited = true; // a test that is not about the budget should not meet it
        }

        cloud ??= new SimulatedCloud(cloudOptions, time);
        IInstanceProvider provider = new PacedInstanceProvider(cloud, quota ?? new ProviderQuotaOptions { Unlimited = true });
        provider = wrapProvider?.Invoke(provider) ?? provider;
        var store = new LocalStore();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["VNodeMesh:Nodes:Items:0:Name"] = Node,
            ["VNodeMesh:Nodes:KeepAliveInterval"] = "00:00:00.500",
            ["VNodeMesh:Pods:RetryBaseDelay"] = "00:00:00.050",
            ["VNodeMesh:Pods:RetryMaxDelay"] = "00:00:01",
            ["VNodeMesh:Pods:WatchdogPeriod"] = "00:00:02",
            ["VNodeMesh:VirtualNodes:PollInterval"] = "00:00:00.200",
        }).AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();

        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(store);
            if (!providerFromSettings)
            {
                silo.Services.AddSingleton<IInstanceProvider>(provider);
            }

            silo.Services.AddSingleton<TimeProvider>(time);
            silo.UseLocalStore().AddVNodeMesh(configuration).UseKubernetes(configuration);
            configureSilo?.Invoke(silo);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new VNodeMeshTestCluster(cluster, cloud, time, store);
    }

    public Task SubmitAsync(params V1Pod[] pods) => SubmitAsync((IEnumerable<V1Pod>)pods);

    public Task SubmitAsync(IEnumerable<V1Pod> pods) =>
        BurstScenario.SubmitWithRetryAsync(VirtualNode, pods.Select(PodManifest.From).ToList(), CancellationToken.None);

    public async Task<PodSnapshot> SnapshotAsync(Guid uid)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await Grains.GetGrain<IPodGrain>(uid).GetSnapshot();
            }
            catch (Exception) when (attempt < 20)
            {
                await Task.Delay(250); // the grain's silo may have just died
            }
        }
    }

    /// <summary>Waits until every pod satisfies <paramref name="done"/>; fails naming the pods that did not.</summary>
    public async Task<IReadOnlyList<PodSnapshot>> WaitForAsync(IEnumerable<Guid> uids, Func<PodSnapshot, bool> done, TimeSpan timeout)
    {
        var pending = uids.ToList();
        var finished = new List<PodSnapshot>();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var snapshots = await Task.WhenAll(pending.Select(SnapshotAsync));
            finished.AddRange(snapshots.Where(done));
            pending = snapshots.Where(s => !done(s)).Select(s => s.Uid).ToList();
            if (pending.Count == 0)
            {
                return finished;
            }

            if (DateTime.UtcNow > deadline)
            {
                var examples = snapshots.Where(s => !done(s)).Take(5).Select(s => $"{s.Name}: {s.Stage} {s.Reason} {s.Message}");
                Assert.Fail($"{pending.Count} pods did not get there in {timeout}: {string.Join("; ", examples)}");
            }

            await Task.Delay(250);
        }
    }

    public Task<PodSnapshot> WaitForAsync(Guid uid, Func<PodSnapshot, bool> done, TimeSpan timeout) =>
        WaitForAsync([uid], done, timeout).ContinueWith(t => t.Result[0], TaskScheduler.Default);

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}
