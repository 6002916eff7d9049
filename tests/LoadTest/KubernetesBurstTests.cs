using VNodeMesh.LoadTest.Burst;

namespace VNodeMesh.Tests.LoadTest;

/// <summary>
/// The burst through a real API server (<c>burst --kubernetes</c>), against the cluster of
/// <c>$KUBECONFIG</c>. The test command always provides one, so a missing KUBECONFIG is a failure.
/// </summary>
[Collection(nameof(BurstScenarioTests))]
public sealed class KubernetesBurstTests
{
    [Fact]
    public async Task A_small_burst_through_the_API_server_runs_every_pod_within_three_writes_each()
    {
        var kubeconfig = Environment.GetEnvironmentVariable("KUBECONFIG");
        Assert.False(string.IsNullOrWhiteSpace(kubeconfig),
            "KUBECONFIG is not set: this test needs a Kubernetes API server (e.g. /work/shared/tools/kube-local: "
            + "KUBECONFIG=$(KUBE_LOCAL_COMPONENTS=full up.sh)); the test command always provides one");

        var settings = TestBursts.Unlimited(50) with { Kubernetes = true, Timeout = TimeSpan.FromSeconds(120) };
        var report = await new KubernetesBurstScenario(settings, TestBursts.Silent()).RunAsync();

        Assert.True(report.Kubernetes);
        Assert.Equal(50, report.Running);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.DuplicateInstances);
        Assert.Equal(50, report.ProviderCalls.Create);
        Assert.True(report.PodsPerSecond > 0);
        Assert.True(report.StartupLatencyMs.P50 > 0 && report.StartupLatencyMs.P50 <= report.StartupLatencyMs.Max);
        Assert.NotNull(report.ApiRequestsByVerb);
        Assert.True(report.ApiRequestsByVerb.GetValueOrDefault("patch") > 0, "VNodeMesh wrote no pod status");
        // Node and lease writes are a fixed cost, not a per-pod one.
        Assert.True(report.WritesToRunningPerPod is >= 1 and <= 3,
            $"VNodeMesh made {report.WritesToRunningPerPod} writes per pod on the way to Running, more than 3: {string.Join(", ", report.ApiRequestsByVerbAndResource!.Select(p => $"{p.Key}={p.Value}"))}");
        Assert.True(report.BaselinePodsPerSecond > 0, "the baseline measured nothing");
        Assert.Equal(50, report.Baseline!.Running);
        Assert.True(report.BaselineRatio > 0);
        Assert.Contains("\"writesPerPod\"", report.ToJson());
    }

    [Fact]
    public async Task A_kubeconfig_that_does_not_exist_is_named_in_the_error()
    {
        var settings = new BurstSettings { Kubernetes = true, Kubeconfig = "/nonexistent/kubeconfig", Pods = 1 };
        var error = await Assert.ThrowsAsync<KubernetesUnavailableException>(
            () => new KubernetesBurstScenario(settings, TestBursts.Silent()).RunAsync());
        Assert.Contains("/nonexistent/kubeconfig", error.Message);
    }

    [Fact]
    public async Task An_API_server_that_does_not_answer_is_reported_unreachable()
    {
        var port = LocalSiloCluster.FreePorts(1)[0];
        var path = Path.Combine(Path.GetTempPath(), $"kubeconfig-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: nowhere
              cluster:
                server: https://127.0.0.1:{port}
                insecure-skip-tls-verify: true
            users:
            - name: nobody
              user:
                token: none
            contexts:
            - name: nowhere
              context:
                cluster: nowhere
                user: nobody
            current-context: nowhere
            """);
        try
        {
            var settings = new BurstSettings { Kubernetes = true, Kubeconfig = path, Pods = 1 };
            var error = await Assert.ThrowsAsync<KubernetesUnavailableException>(
                () => new KubernetesBurstScenario(settings, TestBursts.Silent()).RunAsync());
            Assert.Contains($"https://127.0.0.1:{port}", error.Message);
            Assert.Contains("unreachable", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
