using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace VNodeMesh.Silo.Providers.Redis;

public static class ClusterBudgetExtensions
{
    public const string ProfileSetting = "VNodeMesh:Profile";
    public const string RedisSetting = "VNodeMesh:Cluster:Redis";

    /// <summary>
    /// On the cluster profile (<c>VNodeMesh:Profile=cluster</c> with <c>VNodeMesh:Cluster:Redis</c> set), the
    /// create/delete budget is shared by every silo through Redis: the <see cref="IConnectionMultiplexer"/>
    /// registered in DI, else a connection of its own from <c>VNodeMesh:Cluster:Redis</c>. Otherwise each
    /// process keeps its own bucket. Safe to call more than once.
    /// </summary>
    public static IServiceCollection AddClusterProviderBudget(this IServiceCollection services, IConfiguration configuration)
    {
        var redis = configuration[RedisSetting];
        if (!string.Equals(configuration[ProfileSetting], "cluster", StringComparison.OrdinalIgnoreCase) || string.IsNullOrWhiteSpace(redis))
        {
            return services;
        }

        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(redis);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or RedisException)
        {
            throw new OptionsValidationException(RedisSetting, typeof(ConfigurationOptions),
                [$"{RedisSetting} is not a valid Redis configuration string: {ex.Message}"]);
        }

        if (options.EndPoints.Count == 0)
        {
            throw new OptionsValidationException(RedisSetting, typeof(ConfigurationOptions),
                [$"{RedisSetting} names no Redis endpoint (host:port)"]);
        }

        // Start-up checks Redis itself, with a message of its own; later outages only delay creates.
        options.AbortOnConnectFail = false;
        services.TryAddSingleton(_ => new OwnConnection(options));
        return services.AddRedisProviderBudget(sp => sp.GetService<IConnectionMultiplexer>() ?? sp.GetRequiredService<OwnConnection>().Multiplexer);
    }

    /// <summary>
    /// The create/delete budget in Redis through <paramref name="connection"/>, keyed by the silo's
    /// <see cref="ClusterOptions"/>, and checked at start-up: a Redis that does not answer stops the silo
    /// with a message naming it. Replaces the process's own bucket whenever it is called.
    /// </summary>
    public static IServiceCollection AddRedisProviderBudget(this IServiceCollection services, Func<IServiceProvider, IConnectionMultiplexer> connection)
    {
        services.Replace(ServiceDescriptor.Singleton<IProviderBudget>(sp => new RedisProviderBudget(
            connection(sp),
            RedisProviderBudget.KeyFor(sp.GetRequiredService<IOptions<ClusterOptions>>().Value),
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>())));
        services.AddOptions<ProviderQuotaOptions>();
        services.AddHostedService<ProviderBudgetCheck>();
        return services;
    }

    /// <summary>A connection for the budget alone, when the host registered none.</summary>
    private sealed class OwnConnection(ConfigurationOptions options) : IDisposable
    {
        private readonly Lazy<ConnectionMultiplexer> _multiplexer = new(() => ConnectionMultiplexer.Connect(options));

        public IConnectionMultiplexer Multiplexer => _multiplexer.Value;

        public void Dispose()
        {
            if (_multiplexer.IsValueCreated)
            {
                _multiplexer.Value.Dispose();
            }
        }
    }

    /// <summary>Stops the start-up when the budget's Redis does not answer.</summary>
    private sealed class ProviderBudgetCheck(IProviderBudget budget, IOptions<ProviderQuotaOptions> quota) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) =>
            budget is RedisProviderBudget redis && !quota.Value.Unlimited ? redis.CheckAsync(quota.Value, cancellationToken) : Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
