using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.Silo.Hosting;

namespace VNodeMesh.Tests.Hosting;

public sealed class OptionsValidationTests
{
    [Theory]
    [InlineData("VNodeMesh:VirtualNodes:Capacity", "0", "Capacity")]
    [InlineData("VNodeMesh:Pods:HistoryLimit", "1", "HistoryLimit")]
    [InlineData("VNodeMesh:Pods:Cluster", "Not_A_Label", "Cluster")]
    [InlineData("VNodeMesh:Provider:Quota:PerSecond", "0", "PerSecond")]
    [InlineData("VNodeMesh:Provider:Quota:RedisTimeout", "00:00:00.001", "RedisTimeout")]
    [InlineData("VNodeMesh:Simulator:TransientErrorRate", "2", "TransientErrorRate")]
    public async Task The_silo_refuses_to_start_with_an_invalid_setting_and_names_it(string key, string value, string name)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [key] = value,
        });
        var ports = LocalSiloCluster.FreePorts(2);
        builder.UseOrleans(silo => silo.UseLocalStore().UseLocalhostClustering(ports[0], ports[1]).AddVNodeMesh(builder.Configuration));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(name, error.Message);
    }
}
