using VNodeMesh.Emulator;
using VNodeMesh.Silo.Providers.Simulator;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Eci;

/// <summary>The whole system on the ECI provider: Orleans silos, real HTTP, signed requests, the emulator's faults.</summary>
public sealed class EciEndToEndTests
{
    [Fact]
    public async Task A_thousand_pods_under_transient_faults_and_lost_answers_all_run_with_one_instance_each()
    {
        var cloud = SimulatorOptions.ZeroLatency();
        cloud.QuotaUnlimited = true;
        cloud.TransientErrorRate = 0.2;
        await using var emulator = await EciProviderTests.StartEmulatorAsync(cloud, new EciEmulatorOptions { Port = 0, LostAnswerRate = 0.05, Seed = 3 });
        await using var cluster = await VNodeMeshTestCluster.StartAsync(settings: Settings(emulator), cloud: emulator.Cloud, providerFromSettings: true);

        var pods = Enumerable.Range(0, 1000).Select(i => TestPods.Create($"eci-{i}")).ToList();
        await cluster.SubmitAsync(pods);
        var snapshots = await cluster.WaitForAsync(pods.Select(p => p.Uid()), s => s.Stage == PodStage.Running, TimeSpan.FromMinutes(3));

        var stats = emulator.Cloud.Statistics;
        Assert.Equal(1000, snapshots.Count);
        Assert.Equal(0, stats.DuplicateInstances);
        Assert.Equal(1000, stats.InstancesCreated);
        Assert.True(stats.TransientErrorsInjected > 100, $"only {stats.TransientErrorsInjected} transient errors were injected");
        Assert.True(emulator.LostAnswers > 10, $"only {emulator.LostAnswers} answers were lost after a create");
        Assert.All(pods, p => Assert.Equal(1, emulator.Cloud.InstancesCreatedForPod(p.Metadata.Uid)));
        Assert.All(snapshots, s => Assert.StartsWith("eci-", s.InstanceId));
        Assert.Equal(0, emulator.Rejected);
    }

    [Fact]
    public async Task A_silo_with_the_ECI_provider_and_no_vswitch_refuses_to_start_naming_the_setting()
    {
        await using var emulator = await EciProviderTests.StartEmulatorAsync();
        var settings = Settings(emulator);
        settings.Remove("VNodeMesh:Eci:VSwitches:0");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => VNodeMeshTestCluster.StartAsync(settings: settings, providerFromSettings: true, silos: 1));

        Assert.Contains("has no vSwitch", Flatten(error));
    }

    internal static Dictionary<string, string?> Settings(EciEmulator emulator) => new()
    {
        ["VNodeMesh:Provider:Name"] = "eci",
        ["VNodeMesh:Provider:Quota:Unlimited"] = "true",
        ["VNodeMesh:Eci:Region"] = emulator.Region,
        ["VNodeMesh:Eci:Endpoint"] = emulator.Endpoint.ToString(),
        ["VNodeMesh:Eci:AccessKeyId"] = emulator.Credentials.AccessKeyId,
        ["VNodeMesh:Eci:AccessKeySecret"] = emulator.Credentials.AccessKeySecret,
        ["VNodeMesh:Eci:VSwitches:0"] = "vsw-tests-a",
        ["VNodeMesh:Eci:SecurityGroup"] = "sg-tests",
        ["VNodeMesh:Eci:RetryBaseDelay"] = "00:00:00.020",
    };

    private static string Flatten(Exception error) =>
        string.Join(" | ", Enumerable.Repeat(error, 1).Concat(error is AggregateException a ? a.Flatten().InnerExceptions : []).Select(e => e.ToString()));
}
