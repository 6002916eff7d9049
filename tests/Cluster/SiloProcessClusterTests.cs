using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Silo.Kubernetes;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;
using VNodeMesh.Tests.Kubernetes;

namespace VNodeMesh.Tests.Cluster;

/// <summary>
/// Silo processes on the cluster profile against the real API server and one shared cloud: faults of
/// the provider, a silo joining the cluster, a silo dying under a pod that is backing off.
/// </summary>
[Collection(KubernetesCollection.Name)]
public sealed class SiloProcessClusterTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <summary>Fast retries, so that pods that meet faults converge within the test.</summary>
    private static readonly Dictionary<string, string?> QuickRetries = new()
    {
        ["VNodeMesh:Pods:RetryBaseDelay"] = "00:00:00.200",
        ["VNodeMesh:Pods:RetryMaxDelay"] = "00:00:02",
    };

    [Fact]
    public async Task In_a_provider_fault_storm_every_fail_back_pod_runs_and_fail_fast_pods_fail_with_their_reason()
    {
        var cloud = SimulatorOptions.ZeroLatency();
        cloud.QuotaUnlimited = true;
        cloud.TransientErrorRate = 0.3;
        cloud.ThrottleRate = 0.1;
        cloud.Zones = ["cn-hangzhou-a", "cn-hangzhou-b", "cn-hangzhou-c"];
        cloud.NoStockZones = ["cn-hangzhou-b"];
        await using var kit = await SiloProcessKit.StartAsync(silos: 2, cloud, settings: QuickRetries);
        await using var watch = await PodPhaseWatch.StartAsync(kit.Api, kit.Namespace, CancellationToken.None);

        const int failBack = 200, failFast = 60, noStock = 20;
        var failFastAnnotations = new Dictionary<string, string> { [PodAnnotations.FailStrategy] = "fail-fast" };
        var noStockAnnotations = new Dictionary<string, string>(failFastAnnotations) { [SimulatorAnnotations.FailCreate] = "OperationDenied.NoStock" };
        await kit.CreatePodsAsync(failBack + failFast + noStock, i => i switch
        {
            < failBack => kit.Pod($"back-{i}"),
            < failBack + failFast => kit.Pod($"fast-{i}", failFastAnnotations),
            _ => kit.Pod($"nostock-{i}", noStockAnnotations),
        });

        await kit.WaitUntilAsync(() => Task.FromResult(watch.Settled == failBack + failFast + noStock), Timeout,
            () => $"{watch.Settled} of {failBack + failFast + noStock} pods settled ({watch.Running} running)");

        var pods = (await kit.Api.CoreV1.ListNamespacedPodAsync(kit.Namespace)).Items.ToDictionary(p => p.Name());
        var statistics = kit.Cloud.Simulator.Statistics;
        foreach (var (name, pod) in pods)
        {
            var instances = kit.Cloud.Simulator.InstancesCreatedForPod(pod.Metadata.Uid);
            if (name.StartsWith("back-", StringComparison.Ordinal))
            {
                Assert.True(pod.Status.Phase == "Running", $"fail-back pod {name} is {pod.Status.Phase} ({pod.Status.Reason}: {pod.Status.Message}). {kit.Diagnostics()}");
            }
            else if (name.StartsWith("fast-", StringComparison.Ordinal))
            {
                // Transient errors are retried by the ECI client itself, so most fail-fast pods run; any that failed says why.
                Assert.True(pod.Status.Phase == "Running" || pod.Status is { Phase: "Failed", Reason: "ProviderFailed" },
                    $"fail-fast pod {name} is {pod.Status.Phase} ({pod.Status.Reason}: {pod.Status.Message})");
            }
            else
            {
                Assert.True(pod.Status is { Phase: "Failed", Reason: "ProviderFailed" } && pod.Status.Message?.Contains("NoStock", StringComparison.Ordinal) == true,
                    $"fail-fast pod {name} that meets no stock is {pod.Status.Phase} ({pod.Status.Reason}: {pod.Status.Message})");
                Assert.Equal(0, instances);
                continue;
            }

            if (pod.Status.Phase == "Running")
            {
                Assert.Equal(1, instances);
                Assert.NotEqual("cn-hangzhou-b", Zone(pod));
            }
        }

        Assert.Equal(0, statistics.DuplicateInstances);
        Assert.True(statistics.TransientErrorsInjected > 0, "no transient error was injected");
        Assert.True(statistics.CreateThrottled > 0, "no create was throttled");
        // The pods whose first zone had no stock ran in another one.
        var zones = pods.Values.Where(p => p.Status.Phase == "Running").Select(p => Zone(p)).ToHashSet();
        Assert.Contains("cn-hangzhou-a", zones);
        Assert.Contains("cn-hangzhou-c", zones);
    }

    private static string? Zone(V1Pod pod) => pod.Metadata.Annotations is { } a && a.TryGetValue(PodStatusPatch.InstanceZone, out var zone) ? zone : null;

    [Fact]
    public async Task A_silo_that_joins_in_the_middle_of_a_burst_takes_a_share_of_the_new_pods()
    {
        // Instances take three seconds to run, so that every pod grain stays active long enough to be seen where it is.
        var cloud = SimulatorOptions.Realistic();
        cloud.QuotaUnlimited = true;
        cloud.SchedulingSeconds = new LatencyDistribution(1, 1);
        cloud.PendingSeconds = new LatencyDistribution(2, 2);
        await using var kit = await SiloProcessKit.StartAsync(silos: 2, cloud);
        await using var watch = await PodPhaseWatch.StartAsync(kit.Api, kit.Namespace, CancellationToken.None);

        var seen = new ConcurrentDictionary<Guid, ConcurrentDictionary<string, byte>>();
        using var stop = new CancellationTokenSource();
        var sampling = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    foreach (var (pod, silo) in await kit.Client.PodActivationsAsync())
                    {
                        seen.GetOrAdd(pod, _ => new())[kit.Silos.Find(silo)?.Name ?? silo.ToString()] = 0;
                    }
                }
                catch (Exception) when (!stop.IsCancellationRequested)
                {
                    // a silo joining: ask again
                }

                await Task.Delay(300);
            }
        });

        const int first = 150, second = 300;
        await kit.CreatePodsAsync(first, i => kit.Pod($"first-{i}"));
        await kit.WaitUntilAsync(() => Task.FromResult(watch.Running == first), Timeout, () => $"{watch.Running} of the first {first} pods run");

        var joined = await kit.Silos.AddAsync();
        await kit.CreatePodsAsync(second, i => kit.Pod($"second-{i}"));
        await kit.WaitUntilAsync(() => Task.FromResult(watch.Running == first + second), Timeout, () => $"{watch.Running} of {first + second} pods run");
        await stop.CancelAsync();
        await sampling;

        var uids = (await kit.Api.CoreV1.ListNamespacedPodAsync(kit.Namespace)).Items.ToDictionary(p => p.Name(), p => Guid.Parse(p.Metadata.Uid));
        int On(string prefix, int count, string silo) =>
            Enumerable.Range(0, count).Count(i => seen.TryGetValue(uids[$"{prefix}-{i}"], out var silos) && silos.ContainsKey(silo));
        var shares = string.Join(", ", kit.Silos.Silos.Select(s => $"{s.Name}: {On("first", first, s.Name)} first, {On("second", second, s.Name)} second"));
        Assert.True(seen.Count >= (first + second) * 0.9, $"only {seen.Count} of {first + second} pod grains were ever seen active ({shares})");
        Assert.Equal(0, On("first", first, joined.Name));
        Assert.True(On("second", second, joined.Name) >= second / 10, $"the silo that joined took too few of the new pods: {shares}. {kit.Diagnostics()}");
        Assert.Equal(0, kit.Cloud.Simulator.Statistics.DuplicateInstances);
    }

    [Fact]
    public async Task A_pod_backing_off_on_a_silo_that_dies_resumes_its_backoff_on_another_silo_without_starting_over()
    {
        // Every create fails until the test lets them through; each failure is one attempt (no HTTP retries, no circuit breaker).
        var cloud = SimulatorOptions.ZeroLatency();
        cloud.QuotaUnlimited = true;
        cloud.TransientErrorRate = 1;
        await using var kit = await SiloProcessKit.StartAsync(silos: 2, cloud, settings: new Dictionary<string, string?>
        {
            ["VNodeMesh:Pods:RetryBaseDelay"] = "00:00:00.500",
            ["VNodeMesh:Pods:RetryMaxDelay"] = "00:00:02",
            ["VNodeMesh:Pods:WatchdogPeriod"] = "00:00:05",
            ["VNodeMesh:Eci:MaxRetries"] = "0",
            ["VNodeMesh:Eci:BreakMinimumCalls"] = "100000",
        });

        const int count = 6;
        await kit.CreatePodsAsync(count, i => kit.Pod($"backoff-{i}"));
        var uids = (await kit.Api.CoreV1.ListNamespacedPodAsync(kit.Namespace)).Items.Select(p => Guid.Parse(p.Metadata.Uid)).ToList();
        var grains = uids.ToDictionary(uid => uid, uid => kit.Client.Grains.GetGrain<IPodGrain>(uid));
        await kit.WaitUntilAsync(async () =>
        {
            var snapshots = await Task.WhenAll(grains.Values.Select(g => g.GetSnapshot()));
            return snapshots.All(s => s.Attempts >= 3);
        }, Timeout, () => "the pods did not fail three creates each");

        // The silo hosting most of them dies; what its pods had done so far is known.
        var hosts = new Dictionary<Guid, string>();
        foreach (var (uid, grain) in grains)
        {
            hosts[uid] = (await kit.Silos.HostOfAsync(grain))?.Name ?? "";
        }

        var victim = kit.Silos.Running.OrderByDescending(s => hosts.Values.Count(h => h == s.Name)).First();
        var orphans = hosts.Where(h => h.Value == victim.Name).Select(h => h.Key).ToList();
        Assert.True(orphans.Count > 0, $"no silo hosts the pods: {string.Join(", ", hosts.Values)}");
        var before = new Dictionary<Guid, int>();
        foreach (var uid in orphans)
        {
            before[uid] = (await grains[uid].GetSnapshot()).Attempts;
        }

        var killedAt = DateTimeOffset.UtcNow;
        victim.Kill();

        // Nothing here activates them: they must come back by themselves (their watchdog, the node's resync).
        var survivor = kit.Silos.Running.Single();
        await kit.WaitUntilAsync(async () =>
        {
            foreach (var uid in orphans)
            {
                if ((await kit.Silos.HostOfAsync(grains[uid]))?.Name != survivor.Name)
                {
                    return false;
                }
            }

            return true;
        }, Timeout, () => $"the {orphans.Count} pods of {victim.Name} were not active on {survivor.Name} again");
        await kit.WaitUntilAsync(async () =>
        {
            foreach (var uid in orphans)
            {
                if ((await grains[uid].GetSnapshot()).Attempts <= before[uid] + 1)
                {
                    return false;
                }
            }

            return true;
        }, Timeout, () => "the pods of the dead silo did not go on failing creates");

        foreach (var uid in orphans)
        {
            var snapshot = await grains[uid].GetSnapshot();
            var attempts = snapshot.History.Where(h => h.ErrorCode is not null).Select(h => (h.At, h.Attempt)).ToList();
            var after = attempts.Where(a => a.At > killedAt).ToList();
            Assert.True(after.Count > 0 && after.All(a => a.Attempt > before[uid]),
                $"pod {uid} started over on {survivor.Name}: {before[uid]} attempts before the kill, then {string.Join(", ", after.Select(a => a.Attempt))}");
            Assert.True(attempts.Zip(attempts.Skip(1)).All(p => p.Second.Attempt > p.First.Attempt),
                $"pod {uid}'s attempts did not keep counting: {string.Join(", ", attempts.Select(a => a.Attempt))}");
        }

        // Let the creates through: each pod gets exactly one instance.
        kit.Cloud.Options.TransientErrorRate = 0;
        foreach (var uid in uids)
        {
            await kit.WaitUntilAsync(async () => (await grains[uid].GetSnapshot()).Stage == PodStage.Running, Timeout, () => $"pod {uid} did not run");
            Assert.Equal(1, kit.Cloud.Simulator.InstancesCreatedForPod(uid.ToString()));
        }

        Assert.Equal(0, kit.Cloud.Simulator.Statistics.DuplicateInstances);
    }
}
