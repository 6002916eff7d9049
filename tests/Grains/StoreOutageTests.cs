using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using VNodeMesh.Grains;
using VNodeMesh.Silo.Local;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Grains;

/// <summary>
/// The store under the pods' state can fail a write (Redis restarting, a connection cut). A pod whose
/// step could not be stored must neither stop where it was nor get a second instance.
/// </summary>
public sealed class StoreOutageTests
{
    [Fact]
    public async Task Pods_whose_state_writes_fail_still_run_with_one_instance_each()
    {
        var store = new FailingWrites(failureRate: 0.3);
        await using var cluster = await VNodeMeshTestCluster.StartAsync(configureSilo: store.Install);
        var pods = Enumerable.Range(0, 200).Select(i => TestPods.Create($"unstored-{i}")).ToList();

        await cluster.SubmitAsync(pods);

        var snapshots = await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage == PodStage.Running, TimeSpan.FromSeconds(90));
        Assert.All(snapshots, s => Assert.Equal(1, cluster.Cloud.InstancesCreatedForPod(s.Uid.ToString())));
        Assert.True(store.Failed > 50, $"only {store.Failed} writes failed: the test did not test much");
    }

    [Fact]
    public async Task Pods_caught_by_a_store_outage_run_once_it_ends()
    {
        var store = new FailingWrites(failureRate: 0);
        await using var cluster = await VNodeMeshTestCluster.StartAsync(configureSilo: store.Install,
            wrapProvider: provider => new SlowCreates(provider, TimeSpan.FromSeconds(1)));
        var pods = Enumerable.Range(0, 50).Select(i => TestPods.Create($"outage-{i}")).ToList();
        await cluster.SubmitAsync(pods);

        // The creates are in flight; their outcomes cannot be stored for longer than they are redelivered.
        store.FailureRate = 1;
        await Task.Delay(TimeSpan.FromSeconds(8));
        store.FailureRate = 0;

        var snapshots = await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage == PodStage.Running, TimeSpan.FromSeconds(90));
        Assert.All(snapshots, s => Assert.Equal(1, cluster.Cloud.InstancesCreatedForPod(s.Uid.ToString())));
        Assert.True(store.Failed > 50, $"only {store.Failed} writes failed: the outage missed the pods");
    }

    private sealed class SlowCreates(IInstanceProvider inner, TimeSpan delay) : DelegatingInstanceProvider(inner)
    {
        public override async Task<CreateContainerGroupResult> CreateContainerGroupAsync(CreateContainerGroupRequest request, CancellationToken cancellationToken = default)
        {
            await Task.Delay(delay, cancellationToken);
            return await base.CreateContainerGroupAsync(request, cancellationToken);
        }
    }

    /// <summary>The real store, with a share of its writes refused as a store that cannot be reached refuses them.</summary>
    private sealed class FailingWrites(double failureRate)
    {
        private readonly Random _random = new(7);
        private int _failed;

        public double FailureRate { get; set; } = failureRate;
        public int Failed => Volatile.Read(ref _failed);

        /// <summary>Puts this between the silo's grains and their real store.</summary>
        public void Install(ISiloBuilder silo) => silo.Services.AddKeyedSingleton<IGrainStorage>(VNodeMeshStorage.Name,
            (sp, _) => new Storage(this, ActivatorUtilities.CreateInstance<LocalGrainStorage>(sp)));

        private bool Fails()
        {
            lock (_random)
            {
                if (_random.NextDouble() >= FailureRate)
                {
                    return false;
                }
            }

            Interlocked.Increment(ref _failed);
            return true;
        }

        private sealed class Storage(FailingWrites owner, IGrainStorage inner) : IGrainStorage
        {
            public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
                inner.ReadStateAsync(stateName, grainId, grainState);

            public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
                owner.Fails() ? throw new TimeoutException($"the store did not answer writing {stateName} of {grainId}") : inner.WriteStateAsync(stateName, grainId, grainState);

            public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
                owner.Fails() ? throw new TimeoutException($"the store did not answer clearing {stateName} of {grainId}") : inner.ClearStateAsync(stateName, grainId, grainState);
        }
    }
}
