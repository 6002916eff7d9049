using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Persistence;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;
using VNodeMesh.Grains;

namespace VNodeMesh.Silo.Hosting;

public static partial class ClusterProfile
{
    public const string ProfileSetting = "VNodeMesh:Profile";
    private static readonly TimeSpan RedisStartupWait = TimeSpan.FromSeconds(20);

    /// <summary>The profile named by <c>VNodeMesh:Profile</c>: <c>local</c> (the default) or <c>cluster</c>.</summary>
    public static ISiloBuilder UseProfile(this ISiloBuilder silo, IConfiguration configuration) =>
        configuration[ProfileSetting]?.Trim().ToLowerInvariant() switch
        {
            null or "" or "local" => silo.UseLocalProfile(configuration),
            "cluster" => silo.UseClusterProfile(configuration),
            var other => throw new OptionsValidationException(ProfileSetting, typeof(string), [$"{ProfileSetting} '{other}' is neither 'local' nor 'cluster'"]),
        };

    /// <summary>
    /// The cluster profile: membership, grain state and reminders in Redis (one connection shared with
    /// the provider budget), endpoints on the advertised address, failure detection fast enough that a
    /// dead silo's virtual nodes come back well inside their 40 s Lease, and a shutdown long enough
    /// to hand them over.
    /// </summary>
    public static ISiloBuilder UseClusterProfile(this ISiloBuilder silo, IConfiguration configuration)
    {
        var cluster = configuration.GetSection(ClusterProfileOptions.Section).Get<ClusterProfileOptions>() ?? new();
        var errors = new List<ValidationResult>();
        if (!Validator.TryValidateObject(cluster, new(cluster), errors, validateAllProperties: true))
        {
            throw new OptionsValidationException(ClusterProfileOptions.Section, typeof(ClusterProfileOptions), errors.Select(e => e.ErrorMessage ?? e.ToString()));
        }

        var redis = ConfigurationOptions.Parse(cluster.Redis);
        redis.AbortOnConnectFail = false; // Redis may start after the silo, or restart under it
        var connection = new Lazy<Task<IConnectionMultiplexer>>(async () => await ConnectionMultiplexer.ConnectAsync(redis));
        async Task<(IConnectionMultiplexer, bool IsShared)> Connect<T>(T _) => (await connection.Value, true);

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = cluster.ServiceId;
        });
        silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort);
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = cluster.ProbeTimeout;
            o.NumMissedProbesLimit = cluster.MissedProbesLimit;
        });
        silo.UseRedisClustering(o =>
        {
            o.ConfigurationOptions = redis;
            o.CreateMultiplexer = Connect;
        });
        silo.AddRedisGrainStorage(VNodeMeshStorage.Name, (OptionsBuilder<RedisStorageOptions> builder) => builder.Configure<Serializer>((o, serializer) =>
        {
            o.ConfigurationOptions = redis;
            o.CreateMultiplexer = Connect;
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer); // the state types are Orleans-serializable, not JSON-shaped
            o.DeleteStateOnClear = true;
        }));
        silo.UseRedisReminderService(o =>
        {
            o.ConfigurationOptions = redis;
            o.CreateMultiplexer = Connect;
        });
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        // The default directory forgets the entries a dead silo held, so a call in the next seconds may
        // activate a second copy of a live pod grain, which then sends a second create. This one recovers
        // them from the survivors before it answers again.
#pragma warning disable ORLEANSEXP003
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003

        var services = silo.Services;
        services.AddSingleton(_ => connection.Value.GetAwaiter().GetResult());
        services.Configure<HostOptions>(o => o.ShutdownTimeout = cluster.ShutdownTimeout);
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new RedisStartupCheck(
            connection, cluster.Redis, sp.GetRequiredService<ILogger<RedisStartupCheck>>()));
        return silo;
    }

    /// <summary>Before anything else starts, Redis must answer: otherwise the silo stops with a message naming it.</summary>
    private sealed partial class RedisStartupCheck(Lazy<Task<IConnectionMultiplexer>> connection, string configuration, ILogger<RedisStartupCheck> logger)
        : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(RedisStartupCheck), ServiceLifecycleStage.First, CheckAsync);

        private async Task CheckAsync(CancellationToken cancellationToken)
        {
            var endpoints = string.Join(", ", ConfigurationOptions.Parse(configuration).EndPoints);
            var deadline = DateTime.UtcNow + RedisStartupWait;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var multiplexer = await connection.Value;
                    await multiplexer.GetDatabase().PingAsync();
                    return;
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    if (DateTime.UtcNow >= deadline)
                    {
                        throw new InvalidOperationException(
                            $"Redis at {endpoints} ({ClusterProfileOptions.Section}:Redis) did not answer within {RedisStartupWait.TotalSeconds:0} s: {ex.Message}", ex);
                    }

                    LogRedisNotAnswering(endpoints, attempt, ex.Message);
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                }
            }
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "Redis at {Endpoints} does not answer yet (attempt {Attempt}): {Error}")]
        private partial void LogRedisNotAnswering(string endpoints, int attempt, string error);
    }
}
