using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.LoadTest.Cluster;
using VNodeMesh.Silo.Web;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Hosting;

/// <summary>The cluster profile as a silo process builds it: its settings checked, Redis required, silos joined through it.</summary>
public sealed class ClusterProfileTests
{
    [Theory]
    [InlineData("VNodeMesh:Profile", "clustered", "VNodeMesh:Profile 'clustered'")]
    [InlineData("VNodeMesh:Cluster:Redis", "", "VNodeMesh:Cluster:Redis is required")]
    [InlineData("VNodeMesh:Cluster:Redis", "127.0.0.1:6379,notAnOption=1", "not a valid Redis configuration string")]
    [InlineData("VNodeMesh:Cluster:AdvertisedAddress", "silo-0", "AdvertisedAddress 'silo-0' is not an IP address")]
    [InlineData("VNodeMesh:Cluster:ProbeTimeout", "00:00:00.001", "ProbeTimeout")]
    public void A_bad_cluster_setting_stops_the_silo_naming_it(string key, string value, string expected)
    {
        var settings = Cluster(redis: "127.0.0.1:1");
        settings[key] = value;
        var error = Assert.Throws<OptionsValidationException>(() => SiloHost.CreateBuilder(Args(settings)).Build());
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public async Task A_redis_that_does_not_answer_stops_start_up_naming_it()
    {
        var port = LocalSiloCluster.FreePorts(1)[0]; // nothing listens there
        await using var app = SiloHost.CreateBuilder(Args(Cluster(redis: $"127.0.0.1:{port},connectTimeout=500"))).Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());
        Assert.Contains($"Redis at 127.0.0.1:{port} (VNodeMesh:Cluster:Redis) did not answer", error.ToString());
    }

    [Fact]
    public async Task Two_silos_on_one_redis_form_one_cluster_and_share_grain_state()
    {
        await using var redis = await RedisServer.StartAsync();
        var endpoint = $"127.0.0.1:{redis.Port}";
        var clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
        await using var first = SiloHost.CreateBuilder(Args(Cluster(endpoint, clusterId))).Build();
        await first.StartAsync();
        await using var second = SiloHost.CreateBuilder(Args(Cluster(endpoint, clusterId))).Build();
        await second.StartAsync();

        var management = first.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        for (var attempt = 0; (await management.GetHosts(onlyActive: true)).Count < 2; attempt++)
        {
            Assert.True(attempt < 100, "the second silo never joined the first one's cluster");
            await Task.Delay(100);
        }

        // A pod admitted through one silo is seen, with its stored state, through the other.
        var pod = PodManifest.From(TestPods.Create("shared"));
        await first.Services.GetRequiredService<IGrainFactory>().GetGrain<IVirtualNodeGrain>("cluster-node").SubmitPods([pod]);
        var snapshot = await second.Services.GetRequiredService<IGrainFactory>().GetGrain<IPodGrain>(pod.Uid).GetSnapshot();
        Assert.Equal("shared", snapshot.Name);
        Assert.NotEqual(PodStage.New, snapshot.Stage);

        await second.StopAsync();
        await first.StopAsync();
    }

    private static Dictionary<string, string?> Cluster(string redis, string? clusterId = null)
    {
        var ports = LocalSiloCluster.FreePorts(3);
        return new()
        {
            ["VNodeMesh:Profile"] = "cluster",
            ["VNodeMesh:Cluster:Redis"] = redis,
            ["VNodeMesh:Cluster:ClusterId"] = clusterId ?? "test-" + Guid.NewGuid().ToString("N")[..8],
            ["VNodeMesh:Cluster:SiloPort"] = ports[0].ToString(),
            ["VNodeMesh:Cluster:GatewayPort"] = ports[1].ToString(),
            ["VNodeMesh:Http:Port"] = ports[2].ToString(),
            ["VNodeMesh:Nodes:Items:0:Name"] = "cluster-node",
        };
    }

    private static string[] Args(Dictionary<string, string?> settings) =>
        [.. settings.Select(s => $"--{s.Key}={s.Value}")];
}
