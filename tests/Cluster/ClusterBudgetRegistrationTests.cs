using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using VNodeMesh.LoadTest.Burst;
using VNodeMesh.LoadTest.Cluster;
using VNodeMesh.Silo.Hosting;
using VNodeMesh.Silo.Providers;
using VNodeMesh.Silo.Providers.Redis;
using VNodeMesh.Tests.Eci;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Cluster;

/// <summary>Which budget a silo gets from its configuration, and what it says when Redis is wrong.</summary>
public sealed class ClusterBudgetRegistrationTests
{
    [Theory]
    [InlineData(null, "127.0.0.1:6379")]
    [InlineData("local", "127.0.0.1:6379")]
    [InlineData("cluster", null)]
    [InlineData("cluster", " ")]
    public void Without_the_cluster_profile_and_a_redis_each_process_keeps_its_own_bucket(string? profile, string? redis)
    {
        using var services = Budget(Settings(profile, redis)).BuildServiceProvider();

        Assert.IsType<LocalProviderBudget>(services.GetRequiredService<IProviderBudget>());
    }

    [Fact]
    public async Task The_cluster_profile_spends_the_budget_in_redis_through_the_connection_the_host_registered()
    {
        await using var server = await RedisServer.StartAsync();
        using var redis = await RedisBudgetKit.ConnectAsync(server);
        var configuration = Settings("cluster", "127.0.0.1:1"); // not used: the host's connection is
        var collection = Budget(configuration);
        collection.AddSingleton<IConnectionMultiplexer>(redis);
        collection.AddClusterProviderBudget(configuration); // a second call changes nothing
        using var services = collection.BuildServiceProvider();

        var budget = Assert.IsType<RedisProviderBudget>(services.GetRequiredService<IProviderBudget>());
        Assert.Same(redis, budget.Redis);
        Assert.Equal("vnodemesh:default:default:provider-budget", budget.Key.ToString());
        Assert.Single(services.GetServices<IHostedService>());
        await services.GetRequiredService<IHostedService>().StartAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Without_a_registered_connection_the_budget_opens_its_own_from_the_setting()
    {
        await using var server = await RedisServer.StartAsync();
        using var host = Host(Settings("cluster", server.ConfigurationString));

        await host.StartAsync();
        var budget = Assert.IsType<RedisProviderBudget>(host.Services.GetRequiredService<IProviderBudget>());
        Assert.True(budget.Redis.IsConnected);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_silo_on_the_cluster_profile_paces_its_provider_with_the_budget_in_redis()
    {
        await using var server = await RedisServer.StartAsync();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [ClusterBudgetExtensions.ProfileSetting] = "cluster",
            [ClusterBudgetExtensions.RedisSetting] = server.ConfigurationString,
        });
        var ports = LocalSiloCluster.FreePorts(2);
        builder.UseOrleans(silo => silo.UseLocalStore().UseLocalhostClustering(ports[0], ports[1]).AddVNodeMesh(builder.Configuration));
        using var host = builder.Build();

        await host.StartAsync();
        try
        {
            Assert.IsType<RedisProviderBudget>(host.Services.GetRequiredService<IProviderBudget>());
            var provider = host.Services.GetRequiredService<IInstanceProvider>();
            await provider.CreateContainerGroupAsync(EciProviderTests.Request(TestPods.Create("through-redis")));
            using var redis = await RedisBudgetKit.ConnectAsync(server);
            Assert.True(await redis.GetDatabase().KeyExistsAsync("vnodemesh:default:default:provider-budget"));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Theory]
    [InlineData("127.0.0.1:6379,connectTimeout=soon")]
    [InlineData(",,")]
    public void An_invalid_redis_configuration_is_refused_naming_the_setting(string redis)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Budget(Settings("cluster", redis)));

        Assert.Contains(ClusterBudgetExtensions.RedisSetting, error.Message);
        Assert.Contains("Redis", error.Message);
    }

    [Fact]
    public async Task An_unreachable_redis_stops_the_start_up_with_a_message_naming_it()
    {
        var port = FreePort();
        using var host = Host(Settings("cluster", $"127.0.0.1:{port},connectTimeout=500"));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("Redis", error.Message);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }

    private static IConfiguration Settings(string? profile, string? redis) => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?>
        {
            [ClusterBudgetExtensions.ProfileSetting] = profile,
            [ClusterBudgetExtensions.RedisSetting] = redis,
        })
        .Build();

    /// <summary>What the silo registers for its provider's budget.</summary>
    private static ServiceCollection Budget(IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddOptions<ProviderQuotaOptions>().Configure(o => o.RedisTimeout = TimeSpan.FromSeconds(2));
        services.TryAddSingleton<IProviderBudget>(LocalProviderBudget.Instance);
        services.AddClusterProviderBudget(configuration);
        return services;
    }

    private static IHost Host(IConfiguration configuration)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        foreach (var service in Budget(configuration))
        {
            builder.Services.Add(service);
        }

        return builder.Build();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
